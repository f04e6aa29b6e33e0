using System.Security.Cryptography;
using Distill.Models;
using Distill.Stages.Arrow;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>The frozen vision tower's patch features per image, computed once and reused by every later step of a
/// student's training (all phases: the tower is the teacher's, frozen, and upcycling does not touch it). Keyed by the
/// image bytes (SHA-256), so the questions of one scene share one entry. Only the tower is cached; the projector
/// that follows it trains and runs every step. Entries are kept while they fit in <see cref="MaxBytes"/>; beyond it
/// features are recomputed per batch (same values). A cache belongs to one model: its tower must stay frozen.
/// <para>Each image's features are computed on their own, so they depend on the image alone, not on which images
/// were missing from the cache in the same batch (a run resumed with an empty cache computes other groups): CPU
/// GEMM kernels are chosen by the row count, and a CLIP image's N+1 rows computed among other images' rows can
/// differ in the last bit from the same rows computed alone.</para></summary>
public sealed class VisionFeatureCache : IDisposable
{
    /// <summary>Default budget: 1 GiB of float32 features (the demo's 2,100 scenes take about 30 MB).</summary>
    public const long DefaultMaxBytes = 1L << 30;

    private readonly Dictionary<string, Tensor> _features = new(StringComparer.Ordinal);
    private long _bytes;

    public VisionFeatureCache(long maxBytes = DefaultMaxBytes) => MaxBytes = maxBytes;

    public long MaxBytes { get; }
    public int Count => _features.Count;
    public long Bytes => _bytes;

    /// <summary>The vision tower's patch features of <paramref name="rows"/>' images, [B,N,Dv], no grad; pixels
    /// [B,3,S,S] are the same images, used for the ones not cached yet. The result belongs to the caller's scope.</summary>
    public Tensor Patches(VisionLanguageModel model, IReadOnlyList<SampleRow> rows, Tensor pixels) =>
        Patches(model, rows.Select(r => r.Image).ToList(), pixels);

    /// <summary>The same for images given by their RGB bytes (the keys), with <paramref name="pixels"/> [B,3,S,S]
    /// made from them.</summary>
    public Tensor Patches(VisionLanguageModel model, IReadOnlyList<byte[]> images, Tensor pixels)
    {
        if (model.VisionTower.parameters().Any(p => p.requires_grad))
            throw new InvalidOperationException("the vision feature cache needs a frozen vision tower");
        var keys = images.Select(image => Convert.ToHexString(SHA256.HashData(image))).ToArray();
        var missing = Enumerable.Range(0, images.Count).Where(i => !_features.ContainsKey(keys[i])).ToArray();
        using var noGrad = no_grad();
        var onDevice = pixels.to(model.Device);
        long bytesPerImage = (long)model.Config.ImageFeatures * model.Config.Vision.HiddenSize * sizeof(float);
        if (_bytes + missing.Length * bytesPerImage > MaxBytes)                                 // over budget: computed, not kept
        {
            using var scope = NewDisposeScope();
            return cat(Enumerable.Range(0, images.Count).Select(i => Compute(model, onDevice, i)).ToArray(), 0).MoveToOuterDisposeScope();
        }
        foreach (var i in missing)
        {
            if (_features.ContainsKey(keys[i])) continue;                                       // same image twice in the batch
            using var scope = NewDisposeScope();
            _features[keys[i]] = Compute(model, onDevice, i).squeeze(0).DetachFromDisposeScope(); // [F,Dv]
            _bytes += bytesPerImage;
        }
        return stack(keys.Select(k => _features[k]).ToArray(), 0);                              // [B,F,Dv]
    }

    /// <summary>The features of image <paramref name="i"/> of pixels [B,3,S,S], computed alone: [1,F,Dv].</summary>
    private static Tensor Compute(VisionLanguageModel model, Tensor pixels, int i) => model.SelectImageFeatures(pixels.narrow(0, i, 1));

    public void Dispose()
    {
        foreach (var feature in _features.Values) feature.Dispose();
        _features.Clear();
        _bytes = 0;
    }
}
