using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Opt-in record of attention probabilities (for ARank, DESIGN 5.4 step 1). A forward takes a capture as an
/// optional argument that is null by default, so the normal path allocates and copies nothing. Per decoder layer it
/// keeps the softmax of the last forward, [B,H,T,T] float32, detached; the capture owns these tensors and frees
/// them in <see cref="Dispose"/>. For a MoD layer the map is laid out over the original positions: rows and
/// columns of tokens that skipped the layer are 0.</summary>
public sealed class AttentionCapture : IDisposable
{
    private readonly Tensor?[] _maps; // per layer [B,H,T,T] float32
    private bool _disposed;

    public AttentionCapture(int layers)
    {
        if (layers <= 0) throw new ArgumentException($"an attention capture needs at least one layer, got {layers}.");
        _maps = new Tensor?[layers];
    }

    public int LayerCount => _maps.Length;

    /// <summary>The map of one layer [B,H,T,T] float32 (owned by the capture), or null if that layer did not run.</summary>
    public Tensor? this[int layer] => _maps[layer];

    /// <summary>Keeps probs [B,H,T,S] (float32) of one layer, replacing an earlier record.</summary>
    internal void Record(int layer, Tensor probs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        Replace(layer, probs.detach().DetachFromDisposeScope());
    }

    /// <summary>A MoD layer ran attention over a compacted sequence: the recorded [B,H,P,P] map becomes [B,H,T,T].
    /// index [B,P]: original position of compacted slot i; valid [B,P]: slot i holds a processed token (the rest are
    /// placeholders, whose rows are dropped; their columns carry probability 0 already).</summary>
    internal void Uncompact(int layer, Tensor index, Tensor valid, long length)
    {
        var compact = _maps[layer] ?? throw new InvalidOperationException($"layer {layer} recorded no attention map.");
        using var noGrad = torch.no_grad();
        Tensor full;
        using (var scope = torch.NewDisposeScope())
        {
            long b = compact.shape[0], h = compact.shape[1], p = compact.shape[2];
            var rows = compact * valid.view(b, 1, p, 1).to_type(compact.dtype);              // [B,H,P,P]
            var columns = index.view(b, 1, 1, p).expand(b, h, p, p);
            var byKey = torch.zeros(b, h, p, length, dtype: compact.dtype, device: compact.device)
                .scatter(3, columns, rows);                                                   // [B,H,P,T]
            var queries = index.view(b, 1, p, 1).expand(b, h, p, length);
            full = torch.zeros(b, h, length, length, dtype: compact.dtype, device: compact.device)
                .scatter(2, queries, byKey)                                                   // [B,H,T,T]
                .DetachFromDisposeScope();
        }
        Replace(layer, full);
    }

    private void Replace(int layer, Tensor map)
    {
        _maps[layer]?.Dispose();
        _maps[layer] = map;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var map in _maps) map?.Dispose();
    }
}
