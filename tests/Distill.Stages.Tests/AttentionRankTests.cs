using Distill.Models;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Mod;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>ARank: the rank of attention maps with their diagonal removed, on maps whose rank is known by construction,
/// and per layer over calibration samples.</summary>
public sealed class AttentionRankTests
{
    /// <summary>Causal uniform attention: query i spreads 1/(i+1) over keys 0..i. Without the diagonal, row i (i &gt;= 1)
    /// ends in a non-zero at column i-1: a strictly lower-triangular matrix with a full sub-diagonal has rank T-1.</summary>
    private static Tensor Uniform(int t)
    {
        var map = new float[t * t];
        for (int i = 0; i < t; i++)
            for (int j = 0; j <= i; j++) map[i * t + j] = 1f / (i + 1);
        return tensor(map).reshape(t, t);
    }

    /// <summary>Attention sink: every query puts all its weight on key 0. Without the diagonal, rows 1.. are the same
    /// unit row: rank 1.</summary>
    private static Tensor Sink(int t)
    {
        var map = new float[t * t];
        for (int i = 0; i < t; i++) map[i * t] = 1f;
        return tensor(map).reshape(t, t);
    }

    [Fact]
    public void KnownRanksOfHandBuiltMapsWithTheDiagonalRemoved()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(5.0, AttentionRank.Of(Uniform(6)).item<double>());
        Assert.Equal(1.0, AttentionRank.Of(Sink(6)).item<double>());
        Assert.Equal(0.0, AttentionRank.Of(eye(6)).item<double>());           // only self-attention: nothing left
        // Queries 1 and 2 each split their weight between key 0 and themselves: with the diagonal the map has full
        // rank 3; without it both rows read key 0 alone and row 0 is empty: rank 1.
        var selfAndFirst = tensor(new float[] { 1, 0, 0, 0.5f, 0.5f, 0, 0.5f, 0, 0.5f }).reshape(3, 3);
        Assert.Equal(3L, linalg.matrix_rank(selfAndFirst).item<long>());
        Assert.Equal(1.0, AttentionRank.Of(selfAndFirst).item<double>());
        // Two query pairs that read two different key pairs: rows 2,3 mix keys 0,1 differently (rank 2); rows 4,5 read
        // keys 2 and 3 (rank 2): rank 4 in all.
        var blocks = zeros(6, 6);
        blocks[2, 0] = tensor(0.5f); blocks[2, 1] = tensor(0.5f); blocks[3, 0] = tensor(0.25f); blocks[3, 1] = tensor(0.75f);
        blocks[4, 2] = tensor(1f); blocks[5, 3] = tensor(1f);
        Assert.Equal(4.0, AttentionRank.Of(blocks).item<double>());
    }

    [Fact]
    public void BatchedHeadsAreRankedSeparatelyAndPaddingAddsNothing()
    {
        using var scope = NewDisposeScope();
        var heads = stack([Uniform(5), Sink(5)]).unsqueeze(0);                // [1,2,5,5]
        var ranks = AttentionRank.Of(heads);
        Assert.Equal(new long[] { 1, 2 }, ranks.shape);
        Assert.Equal(new[] { 4.0, 1.0 }, ranks.data<double>().ToArray());
        Assert.Equal(2.5, ranks.mean([1]).item<double>());                   // layer ARank of this sample: mean over heads

        // The same uniform map behind two padding positions (zero rows and columns) keeps its rank.
        var padded = zeros(7, 7);
        padded[TensorIndex.Slice(2, 7), TensorIndex.Slice(2, 7)] = Uniform(5);
        Assert.Equal(4.0, AttentionRank.Of(padded).item<double>());
        Assert.Equal(ScalarType.Float64, ranks.dtype);
    }

    [Fact]
    public void RejectsMapsThatAreNotSquare()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => AttentionRank.Of(zeros(2, 3, 4)));
        Assert.Contains("[2,3,4]", error.Message);
    }

    [Fact]
    public void LayerARankIsTheMeanOverSamplesWhateverTheBatchingAndPadding()
    {
        manual_seed(3);
        using var model = new VisionLanguageModel(new VlmConfig(
            new VisionConfig(8, 4, 16, 32, 1, 2) { HiddenAct = "gelu" },
            new DecoderConfig(VocabSize: 16, HiddenSize: 24, IntermediateSize: 48, Layers: 3, Heads: 2, KvHeads: 1),
            ImageTokenId: 4) { VisionFeatureLayer = -1 });
        var rows = new[] { Row("a", [1, 5, 4, 4, 4, 4, 7, 8, 9, 6], 3), Row("b", [1, 5, 4, 4, 4, 4, 10, 6], 2), Row("c", [1, 5, 4, 4, 4, 4, 11, 12, 13, 14, 6], 1) };

        model.train();
        var together = AttentionRank.Measure(model, rows, ImageFormat.Shapes(8), padId: 0, batchSize: 3); // left-padded to 11
        var alone = rows.Select(r => AttentionRank.Measure(model, [r], ImageFormat.Shapes(8), 0, 1)).ToArray();
        Assert.Equal(3, together.Length);
        for (int layer = 0; layer < 3; layer++)
        {
            Assert.Equal(alone.Average(a => a[layer]), together[layer], 9);
            // A prompt of T tokens has at most rank T-1 without its diagonal.
            Assert.All(alone.Zip(rows), x => Assert.InRange(x.First[layer], 1, AttentionRank.PromptOf(x.Second).Length - 1));
        }
        Assert.True(model.training);                                          // the caller's mode is restored
    }

    [Fact]
    public void ThePromptIsEverythingBeforeTheFirstResponseToken()
    {
        var row = Row("x", [1, 5, 4, 7, 6], 0) with { InputIds = [1, 5, 4, 7, 6, 9, 2], LabelsMask = [false, false, false, false, false, true, true] };
        Assert.Equal(new[] { 1, 5, 4, 7, 6 }, AttentionRank.PromptOf(row));
        var broken = row with { LabelsMask = [true, false, false, false, false, true, true] };
        Assert.Contains("sample x", Assert.Throws<InvalidDataException>(() => AttentionRank.PromptOf(broken)).Message);
    }

    /// <summary>A row whose prompt is <paramref name="prompt"/> followed by a one-token answer and eos; a random 8x8 image.</summary>
    private static SampleRow Row(string id, int[] prompt, int seed)
    {
        var image = new byte[8 * 8 * 3];
        new Random(seed).NextBytes(image);
        int[] ids = [.. prompt, 9, 2];
        var mask = ids.Select((_, i) => i >= prompt.Length).ToArray();
        return new SampleRow(id, image, ids, mask, "colour", "red");
    }
}
