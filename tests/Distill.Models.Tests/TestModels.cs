using Distill.Models.Torch;
using Distill.Models;
using Distill.Models.Config;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

// Tests seed the global torch RNG: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Distill.Models.Tests;

/// <summary>Tiny configurations and inputs shared by the tests.</summary>
internal static class TestModels
{
    public const int ImageToken = 31;
    public const int Eos = 2;
    public const int Pad = 0;

    /// <summary>Vision 8x8 images, 4x4 patches (4 patches, 5 tower rows with CLIP's class token), width 16, exact
    /// GELU; the LM takes tower layer <paramref name="featureLayer"/> without the class token (4 image features);
    /// text width 24, 4 heads over 2 kv heads.</summary>
    public static VlmConfig TinyConfig(bool tie = false, int featureLayer = -1) => new(
        new VisionConfig(ImageSize: 8, PatchSize: 4, HiddenSize: 16, IntermediateSize: 32, Layers: 2, Heads: 2) { HiddenAct = "gelu" },
        new DecoderConfig(VocabSize: 32, HiddenSize: 24, IntermediateSize: 48, Layers: 2, Heads: 4, KvHeads: 2, TieWordEmbeddings: tie),
        ImageTokenId: ImageToken)
    { VisionFeatureLayer = featureLayer };

    public static VisionLanguageModel Tiny(long seed = 1, bool tie = false, int featureLayer = -1)
    {
        torch.set_num_threads(1);
        torch.manual_seed(seed);
        return new VisionLanguageModel(TinyConfig(tie, featureLayer));
    }

    public static Tensor Pixels(int batch, long seed)
    {
        torch.manual_seed(seed);
        return (torch.rand(batch, 3, 8, 8) * Scalars.Of(2L)).sub(Scalars.One);
    }

    /// <summary>BOS, the 4 image tokens, then the given text tokens.</summary>
    public static int[] Prompt(params int[] text) =>
        new[] { 1, ImageToken, ImageToken, ImageToken, ImageToken }.Concat(text).ToArray();

    public static Tensor Ids(params int[][] rows) =>
        torch.tensor(rows.SelectMany(r => r.Select(x => (long)x)).ToArray(), [rows.Length, rows[0].Length]);

    public static float MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
