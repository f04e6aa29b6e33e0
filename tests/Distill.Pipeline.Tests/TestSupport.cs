using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public void Advance(TimeSpan by) => Now += by;
    public override DateTimeOffset GetUtcNow() => Now;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Now.UtcTicks;
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distill-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string text)
    {
        var p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(p, text);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The repository this test assembly was built from (the directory with run.sh and Pipeline.sln).</summary>
internal static class Repo
{
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "run.sh")) && System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Pipeline.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"run.sh not found above {AppContext.BaseDirectory}");
    }
}

internal static class Cfg
{
    public static string HoconDir => HoconLocator.TryFind() ?? throw new InvalidOperationException("hocon/ not found");

    public static LoadedConfiguration Load(string preset = "demo", string? file = null, params string[] defines) =>
        ConfigLoader.Load(new ConfigSources { Preset = preset, ConfigFile = file, Overrides = defines });

    public static IReadOnlyList<string> Errors(string preset = "demo", string? file = null, params string[] defines)
    {
        var e = Assert.Throws<ConfigurationErrorException>(() => Load(preset, file, defines));
        return e.Errors;
    }

    public static string Single(IReadOnlyList<string> errors)
    {
        Assert.True(errors.Count == 1, "expected one error, got:\n" + string.Join("\n", errors));
        return errors[0];
    }
}

/// <summary>Teacher directories for tests that need a valid <c>distill.teacher.checkpoint</c> (start-up checks read its
/// config.json) but nothing, or only part, of the rest.</summary>
internal static class FakeTeacher
{
    /// <summary>Writes config.json of the tiny preset's teacher (LLaVA, vocabulary <paramref name="vocab"/>) into
    /// <paramref name="directory"/> (created) and returns it.</summary>
    public static string ConfigOnly(string directory, int vocab = 64)
    {
        Directory.CreateDirectory(directory);
        var config = Composition.ModelConfigs.Teacher(Cfg.Load("tiny").Settings, vocab, imageTokenId: 3);
        File.WriteAllText(System.IO.Path.Combine(directory, Distill.Models.Checkpoints.HfConfigJson.ConfigFile),
            Distill.Models.Checkpoints.HfConfigJson.Write(config));
        return directory;
    }
}

/// <summary>A run directory of the tiny preset on a very small dataset (24 train, 8 val, 8 test scenes).</summary>
internal static class TinyRuns
{
    public static (DistillSettings Settings, RunPaths Paths) Create(string runDir, params string[] defines)
    {
        var config = ConfigLoader.Load(new ConfigSources
        {
            Preset = "tiny",
            RunDir = runDir,
            Overrides = ["distill.data.train-scenes = 24", "distill.data.test-scenes = 8", "distill.data.val-scenes = 8", .. defines],
        });
        var (loaded, paths) = RunDirectory.Create(config, DateTimeOffset.UtcNow);
        return (loaded.Settings, paths);
    }
}
