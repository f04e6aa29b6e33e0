using Xunit;
using Distill.Stages.Data;

namespace Distill.Stages.Tests;

/// <summary>One small Shapes dataset written once and shared by the tests of a class.</summary>
public sealed class ShapesDatasetFixture : IDisposable
{
    public static readonly ShapesOptions Options = new()
    {
        ImageSize = 32, TrainScenes = 40, ValScenes = 6, TestScenes = 6, QuestionsPerScene = 5,
        MinObjects = 1, MaxObjects = 6, Seed = 7,
    };

    private readonly TempDir _dir = new();
    public string Dir => _dir.Path;
    public DatasetManifest Manifest { get; }

    public ShapesDatasetFixture() => Manifest = ShapesGenerator.Write(Options, Dir);
    public void Dispose() => _dir.Dispose();
}
