using Distill.Models.Generation;
using Distill.Models;
using Distill.Stages.Arrow;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Mod;

/// <summary>ARank (gamma-MoD, DESIGN 5.4 step 1): how much a decoder layer's attention actually mixes tokens. For each
/// layer and head, the prefill attention map (causal, diagonal set to 0, float32) goes to <c>torch.linalg.matrix_rank</c>;
/// the layer's ARank is the mean over its heads, then the mean over the calibration samples. A low ARank means
/// redundant attention: the layer is a good candidate to let tokens skip.</summary>
public static class AttentionRank
{
    /// <summary>Rank per map: maps [..., T, T] (attention probabilities, any float dtype) -> [...] float64. Each map is
    /// taken in float32 with its diagonal set to 0 (a token's attention to itself says nothing about mixing); rows and
    /// columns that are all 0 (padding) add nothing to the rank. The tolerance is torch's default
    /// (max(T, T) * eps(float32) * largest singular value).</summary>
    public static Tensor Of(Tensor maps)
    {
        if (maps.dim() < 2 || maps.shape[^1] != maps.shape[^2])
            throw new ArgumentException($"attention maps must be [..., T, T], got [{string.Join(",", maps.shape)}].");
        using var scope = torch.NewDisposeScope();
        long t = maps.shape[^1];
        var offDiagonal = torch.ones(t, t, dtype: ScalarType.Float32, device: maps.device)
            - torch.eye(t, dtype: ScalarType.Float32, device: maps.device);                   // [T,T]
        var zeroed = maps.to_type(ScalarType.Float32) * offDiagonal;                          // [..., T, T]
        return torch.linalg.matrix_rank(zeroed).to_type(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>ARank of every decoder layer of <paramref name="model"/> over the prefill of the calibration samples
    /// (the prompt of each row: everything before its first response token, i.e. what generation prefills). Rows are
    /// left-padded in batches of <paramref name="batchSize"/> with an attention mask, so padding takes no attention and
    /// the maps' padding rows and columns are 0. Returns, per layer, the mean over samples of the mean over heads.
    /// Runs in eval mode under no_grad; the model's mode is restored afterwards.</summary>
    public static double[] Measure(VisionLanguageModel model, IReadOnlyList<SampleRow> calibration, ImageFormat imageFormat, int padId, int batchSize)
    {
        if (calibration.Count == 0) throw new ArgumentException("ARank needs at least one calibration sample.");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be positive");
        var wasTraining = model.training;
        model.eval();
        try
        {
            var layers = model.Config.Text.Layers;
            var sums = new double[layers];
            using var noGrad = torch.no_grad();
            foreach (var chunk in calibration.Chunk(batchSize))
            {
                using var scope = torch.NewDisposeScope();
                var prompts = chunk.Select(r => (IReadOnlyList<int>)PromptOf(r)).ToList();
                var (ids, mask) = model.LeftPad(prompts, padId);                                   // [B,T]
                var pixels = ImageTensors.FromRgb(chunk.Select(r => r.Image).ToList(), imageFormat);  // [B,3,S,S]
                var maps = model.AttentionMaps(pixels, ids, mask);                                  // per layer [B,H,T,T]
                for (int layer = 0; layer < layers; layer++)
                    sums[layer] += Of(maps[layer]).mean([1]).sum().item<double>();                  // sum over rows of the head mean
            }
            return sums.Select(s => s / calibration.Count).ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>The prompt of a <c>samples/v1</c> row: its ids before the first response token (all ids when the row
    /// has no response).</summary>
    public static int[] PromptOf(SampleRow row)
    {
        int first = Array.IndexOf(row.LabelsMask, true);
        if (first == 0) throw new InvalidDataException($"sample {row.SampleId}: the response starts at position 0, there is no prompt");
        return first < 0 ? row.InputIds : row.InputIds[..first];
    }
}
