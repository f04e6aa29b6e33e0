using Distill.Models.Checkpoints;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>The Hugging Face reference checkpoints in tests/fixtures/hf (written by transformers 4.40, with the
/// outputs it computed; see that folder's README).</summary>
internal static class HfFixtures
{
    /// <summary>The fixture folder: tests/fixtures/hf (transformers' own), hf-generated (made with transformers for
    /// these tests) or hf-exported (checkpoints Distill wrote, with what transformers computes with them).</summary>
    public static string Directory(string name) =>
        new[] { "hf", "hf-generated", "hf-exported" }.Select(set => Path.Combine(RepositoryRoot(), "tests", "fixtures", set, name))
            .FirstOrDefault(System.IO.Directory.Exists) ?? throw new DirectoryNotFoundException($"no fixture '{name}' under tests/fixtures");

    /// <summary>expected.safetensors of a fixture: input_ids, logits, generated_ids (and pixel_values,
    /// input_ids_expanded for LLaVA). The caller disposes the tensors.</summary>
    public static Dictionary<string, Tensor> Expected(string name)
    {
        var expected = SafeTensors.Read(Path.Combine(Directory(name), "expected.safetensors"));
        var inputs = Path.Combine(Directory(name), "inputs.safetensors"); // the generated fixtures keep their inputs apart
        if (File.Exists(inputs))
            foreach (var (key, tensor) in SafeTensors.Read(inputs))
                if (!expected.TryAdd(key, tensor)) tensor.Dispose();
        return expected;
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
