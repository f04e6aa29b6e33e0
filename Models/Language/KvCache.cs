using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Keys and values of every decoder layer for the positions seen so far, for incremental decoding.
/// Per layer K and V [B,Hkv,S,d] (rotary positions already applied to K, before the GQA repeat), the key mask
/// [B,S] (1 real, 0 pad; left padding of the prompt stays masked for every later step) and per-row real-token
/// counts [B] (the next token's position id). Storage is preallocated for <c>capacity</c> positions and doubles
/// when full. The cache owns its tensors (they belong to no dispose scope) and frees them in <see cref="Dispose"/>.
/// Inference only: run under <c>torch.no_grad()</c> (the buffers are written in place).
/// A step is <see cref="BeginStep"/> (mask, positions) followed by one <see cref="Append"/> per layer.
/// A layer that processes only some tokens (a gamma-MoD layer) keeps positions of its own instead: it calls
/// <see cref="BeginLayerStep"/> with the tokens it processes this step and appends only those, so its length S_l,
/// key mask and per-row counts (its compacted position ids) differ from the shared ones.</summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;     // per layer [B,Hkv,C,d], C = capacity
    private readonly Tensor?[] _values;   // per layer [B,Hkv,C,d]
    private readonly long[] _filled;      // per layer: positions written
    private readonly long _initialCapacity;
    private Tensor? _mask;                // [B,S] int64
    private Tensor? _lengths;             // [B] int64
    private readonly Tensor?[] _layerMask;    // layers with own positions: [B,S_l] int64; null for the others
    private readonly Tensor?[] _layerLengths; // layers with own positions: [B] int64 processed real tokens
    private readonly long[] _layerSteps;      // layers with own positions: the step of their last BeginLayerStep
    private long _steps;                      // BeginStep calls so far
    private readonly int? _slidingWindow;
    private bool _disposed;

    /// <param name="layers">number of decoder layers</param>
    /// <param name="capacity">positions to preallocate (e.g. longest prompt + max new tokens); 0 = the first step's length</param>
    /// <param name="slidingWindow">a query sees only the last this many cached positions (Mistral); null = all</param>
    public KvCache(int layers, long capacity = 0, int? slidingWindow = null)
    {
        _slidingWindow = slidingWindow;
        if (layers <= 0) throw new ArgumentException($"a KV cache needs at least one layer, got {layers}.");
        if (capacity < 0) throw new ArgumentException($"capacity must not be negative, got {capacity}.");
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _filled = new long[layers];
        _layerMask = new Tensor?[layers];
        _layerLengths = new Tensor?[layers];
        _layerSteps = new long[layers];
        _initialCapacity = capacity;
    }

    public int LayerCount => _keys.Length;

    /// <summary>Cached positions S (pads included).</summary>
    public long Length => _mask?.shape[1] ?? 0;

    /// <summary>Rows B; 0 before the first step.</summary>
    public long Batch => _mask?.shape[0] ?? 0;

    /// <summary>Positions the buffers can hold before they grow.</summary>
    public long Capacity => _keys[0]?.shape[2] ?? 0;

    /// <summary>Key mask [B,S] int64 (owned by the cache: do not dispose), or null before the first step.</summary>
    public Tensor? KeyMask => _mask;

    /// <summary>Real tokens per row [B] int64 (owned by the cache), or null before the first step.</summary>
    public Tensor? Lengths => _lengths;

    /// <summary>Whether layer <paramref name="layer"/> keeps positions of its own (see <see cref="BeginLayerStep"/>).</summary>
    public bool HasOwnPositions(int layer) => _layerMask[layer] is not null;

    /// <summary>Positions held by one layer: <see cref="Length"/>, or S_l for a layer with its own positions.</summary>
    public long LayerLength(int layer) => _layerMask[layer]?.shape[1] ?? Length;

    /// <summary>Key mask [B,S_l] int64 of a layer with its own positions (owned by the cache), else null.</summary>
    public Tensor? LayerKeyMask(int layer) => _layerMask[layer];

    /// <summary>Real tokens per row [B] int64 of a layer with its own positions (owned by the cache), else null.</summary>
    public Tensor? LayerLengths(int layer) => _layerLengths[layer];

    /// <summary>Registers T new positions: newMask [B,T] (null = all real). Returns the position ids [B,T] of the
    /// new tokens (continuing each row's own count, = cumsum(full mask) - 1) and the "may attend" mask
    /// [B,1,T,S+T]; both belong to the caller's dispose scope. Every layer must then <see cref="Append"/> once.</summary>
    public (Tensor Positions, Tensor Allowed) BeginStep(long batch, long length, Tensor? newMask, Device device)
    {
        ThrowIfDisposed();
        if (_mask is not null && batch != Batch)
            throw new ArgumentException($"step has {batch} rows, the cache holds {Batch}.");
        for (var layer = 0; layer < _filled.Length; layer++)
        {
            if (_filled[layer] != LayerLength(layer))
                throw new InvalidOperationException(
                    $"layer {layer} holds {_filled[layer]} positions, expected {LayerLength(layer)}: an earlier step did not finish.");
            if (HasOwnPositions(layer) && _layerSteps[layer] != _steps)
                throw new InvalidOperationException($"layer {layer} did not take part in the last step (no BeginLayerStep).");
        }
        _steps++;
        long past = Length;
        Tensor positions, allowed, mask, lengths;
        using (var scope = torch.NewDisposeScope())
        {
            var stepMask = newMask is null
                ? torch.ones(batch, length, dtype: ScalarType.Int64, device: device)
                : newMask.to(device).to_type(ScalarType.Int64);                               // [B,T]
            var pastLengths = _lengths ?? torch.zeros(batch, dtype: ScalarType.Int64, device: device); // [B]
            mask = _mask is null ? stepMask.clone() : torch.cat([_mask, stepMask], 1);        // [B,S+T]
            positions = AttentionMask.ContinuedPositionIds(stepMask, pastLengths);           // [B,T]
            allowed = AttentionMask.CausalWithPast(batch, length, past, mask, device, _slidingWindow); // [B,1,T,S+T]
            lengths = pastLengths.add(stepMask.sum(1), Scalars.One);                         // [B]
            positions.MoveToOuterDisposeScope();
            allowed.MoveToOuterDisposeScope();
            mask.DetachFromDisposeScope();
            lengths.DetachFromDisposeScope();
        }
        _mask?.Dispose();
        _lengths?.Dispose();
        _mask = mask;
        _lengths = lengths;
        return (positions, allowed);
    }

    /// <summary>For a layer that processes only some tokens of this step (after <see cref="BeginStep"/>, instead of
    /// its positions and mask): registers P new positions of that layer alone. newMask [B,P]: 1 = a token the layer
    /// processes, 0 = a placeholder (padding, or a row that processes fewer than P tokens), never attended to.
    /// Returns the position ids [B,P], continuing the layer's own count of processed tokens (the compacted index of
    /// each token), and the "may attend" mask [B,1,P,S_l+P]; both in the caller's dispose scope. The layer then
    /// appends P positions (none when P = 0). From its first call the layer keeps these positions.</summary>
    public (Tensor Positions, Tensor Allowed) BeginLayerStep(int layer, Tensor newMask)
    {
        ThrowIfDisposed();
        if (_mask is null) throw new InvalidOperationException("call BeginStep before BeginLayerStep.");
        long batch = newMask.shape[0], length = newMask.shape[1];
        if (batch != Batch) throw new ArgumentException($"layer step has {batch} rows, the cache holds {Batch}.");
        long past = _layerMask[layer]?.shape[1] ?? 0;
        if (_filled[layer] != past)
            throw new InvalidOperationException(
                $"layer {layer} holds {_filled[layer]} positions, expected {past}: it cannot switch to positions of its own now.");
        if (_layerSteps[layer] == _steps)
            throw new InvalidOperationException($"layer {layer} began this step already.");
        _layerSteps[layer] = _steps;
        Tensor positions, allowed, mask, lengths;
        using (var scope = torch.NewDisposeScope())
        {
            var device = _mask.device;
            var stepMask = newMask.to(device).to_type(ScalarType.Int64);                           // [B,P]
            var pastLengths = _layerLengths[layer] ?? torch.zeros(batch, dtype: ScalarType.Int64, device: device); // [B]
            mask = _layerMask[layer] is null ? stepMask.clone() : torch.cat([_layerMask[layer]!, stepMask], 1); // [B,S_l+P]
            positions = AttentionMask.ContinuedPositionIds(stepMask, pastLengths);                  // [B,P]
            allowed = AttentionMask.CausalWithPast(batch, length, past, mask, device);              // [B,1,P,S_l+P]
            lengths = pastLengths.add(stepMask.sum(1), Scalars.One);                                // [B]
            positions.MoveToOuterDisposeScope();
            allowed.MoveToOuterDisposeScope();
            mask.DetachFromDisposeScope();
            lengths.DetachFromDisposeScope();
        }
        _layerMask[layer]?.Dispose();
        _layerLengths[layer]?.Dispose();
        _layerMask[layer] = mask;
        _layerLengths[layer] = lengths;
        return (positions, allowed);
    }

    /// <summary>Writes this step's keys/values [B,Hkv,T,d] of one layer; returns views of all cached keys and values
    /// [B,Hkv,S+T,d] (handles in the caller's scope over the cache's storage).</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        ThrowIfDisposed();
        if (keys.requires_grad || values.requires_grad)
            throw new InvalidOperationException("the KV cache is for inference: run generation under torch.no_grad().");
        long t = keys.shape[2], end = _filled[layer] + t;
        if (end != LayerLength(layer))
            throw new InvalidOperationException(
                $"layer {layer} would hold {end} positions, the step registered {LayerLength(layer)}: call BeginStep (or BeginLayerStep) once per step.");
        EnsureCapacity(layer, keys, end);
        using (var keySlot = _keys[layer]!.narrow(2, _filled[layer], t))
            keySlot.copy_(keys);
        using (var valueSlot = _values[layer]!.narrow(2, _filled[layer], t))
            valueSlot.copy_(values);
        _filled[layer] = end;
        return (_keys[layer]!.narrow(2, 0, end), _values[layer]!.narrow(2, 0, end));
    }

    /// <summary>Keeps only the given rows (e.g. those still generating), in the given order. rows [A] int64.</summary>
    public void KeepRows(Tensor rows)
    {
        ThrowIfDisposed();
        if (_mask is null) return;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var index = rows.to(_mask.device).to_type(ScalarType.Int64);                        // [A]
        for (var layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer] = Replace(_keys[layer], t => t.index_select(0, index));
            _values[layer] = Replace(_values[layer], t => t.index_select(0, index));
            _layerMask[layer] = Replace(_layerMask[layer], t => t.index_select(0, index));
            _layerLengths[layer] = Replace(_layerLengths[layer], t => t.index_select(0, index));
        }
        _mask = Replace(_mask, t => t.index_select(0, index));
        _lengths = Replace(_lengths, t => t.index_select(0, index));
    }

    private void EnsureCapacity(int layer, Tensor like, long needed)
    {
        var current = _keys[layer];
        if (current is not null && current.shape[2] >= needed) return;
        long b = like.shape[0], h = like.shape[1], d = like.shape[3];
        var capacity = Math.Max(needed, current is null ? _initialCapacity : 2 * current.shape[2]);
        _keys[layer] = Grow(current, b, h, capacity, d, like);
        _values[layer] = Grow(_values[layer], b, h, capacity, d, like);
    }

    /// <summary>A zeroed [B,Hkv,capacity,d] buffer holding the old buffer's positions, outside any scope.</summary>
    private Tensor Grow(Tensor? old, long b, long h, long capacity, long d, Tensor like)
    {
        var buffer = torch.zeros(b, h, capacity, d, dtype: like.dtype, device: like.device).DetachFromDisposeScope();
        if (old is not null)
        {
            using var filled = old.narrow(2, 0, old.shape[2]);
            using var target = buffer.narrow(2, 0, old.shape[2]);
            target.copy_(filled);
            old.Dispose();
        }
        return buffer;
    }

    private static Tensor? Replace(Tensor? old, Func<Tensor, Tensor> make)
    {
        if (old is null) return null;
        var replacement = make(old).DetachFromDisposeScope();
        old.Dispose();
        return replacement;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
        foreach (var t in _layerMask) t?.Dispose();
        foreach (var t in _layerLengths) t?.Dispose();
        _mask?.Dispose();
        _lengths?.Dispose();
    }
}
