using System.Globalization;
using System.Text.Json.Nodes;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>Full-size models built on the meta device (shapes, no storage) from real configs: every tensor's name, dtype
/// and shape, and the parameter counts, equal what transformers 4.40 builds from the same config.json (its
/// names.txt and expected.json, next to the config), so the tensors of real checkpoints map onto the modules.</summary>
public sealed class MetaDeviceTests
{
    [Theory]
    [InlineData("shapes-llava-1.5-7b", "float16")]        // CLIP ViT-L/14-336 + Llama-2-7B (transformers' own fixture)
    [InlineData("shapes-llava-siglip-qwen2", "bfloat16")] // SigLIP so400m/14-384 + Qwen2-0.5B (built by transformers for this test)
    public void A_real_config_builds_transformers_module_tree(string fixture, string dtype)
    {
        var directory = HfFixtures.Directory(fixture);
        var config = Checkpoint.ReadConfig(directory).Vlm!;
        var expectedNames = File.ReadAllLines(Path.Combine(directory, "names.txt"))
            .Select(l => l.Split('\t')).ToDictionary(f => f[0], f => (DType: f[1], Shape: f[2]));
        var facts = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "expected.json")))!;
        var type = dtype == "float16" ? ScalarType.Float16 : ScalarType.BFloat16;

        var rssBefore = ResidentBytes();
        using var model = new VisionLanguageModel(config, new Placement(new Device(DeviceType.META), type) { Initialize = false });
        Assert.True(ResidentBytes() - rssBefore < (2L << 30), $"building on meta raised resident memory by {(ResidentBytes() - rssBefore) >> 20} MiB");

        var built = model.state_dict().ToDictionary(kv => kv.Key, kv => (DType: Name(kv.Value.dtype), Shape: Shape(kv.Value.shape)));
        Assert.All(built.Values, _ => { });
        Assert.Equal(DeviceType.META, model.Device.type);
        if (config.Text.TieWordEmbeddings)
        {
            // transformers' state dict names the tied head too; checkpoints leave it out, and so does this model.
            Assert.Equal(expectedNames["language_model.model.embed_tokens.weight"], expectedNames["language_model.lm_head.weight"]);
            expectedNames.Remove("language_model.lm_head.weight");
        }
        Assert.Empty(expectedNames.Keys.Except(built.Keys));
        Assert.Empty(built.Keys.Except(expectedNames.Keys));
        Assert.All(expectedNames, e => Assert.Equal((e.Key, e.Value), (e.Key, built[e.Key])));

        var total = facts["total_parameters"]!.GetValue<long>();
        Assert.Equal(total, model.ParameterCount());
        var counts = ParameterAccounting.Count(config);
        Assert.Equal(total, counts.Total);
        var parts = facts["parameters_by_component"]!;
        Assert.Equal(parts["vision_tower"]!.GetValue<long>(), counts.VisionTower);
        Assert.Equal(parts["multi_modal_projector"]!.GetValue<long>(), counts.Projector);
        Assert.Equal(parts["language_model"]!.GetValue<long>(), counts.Decoder);
    }

    private static string Name(ScalarType t) => t switch
    {
        ScalarType.Float16 => "float16", ScalarType.BFloat16 => "bfloat16", ScalarType.Float32 => "float32", _ => t.ToString(),
    };

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    private static long ResidentBytes()
    {
        var line = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
