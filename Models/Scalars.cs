using System.Collections.Concurrent;
using TorchSharp;

namespace Distill.Models;

/// <summary>Rooted TorchSharp scalars for the hot paths. An implicit <c>double -> Scalar</c> conversion creates a
/// finalizable object whose native handle is passed to libtorch as a raw pointer; once the handle has been read,
/// the garbage collector may finalize the Scalar while the native call still uses it, which surfaces as
/// "Unknown scalar type" (or worse) in long runs. Scalars from here live for the whole process, so per-layer
/// arithmetic (norm epsilons, attention scales, mask fill values) never races the finalizer. Only a handful of
/// distinct values are ever requested.</summary>
public static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Cache = new();

    public static Scalar Of(double value) => Cache.GetOrAdd(value, v => v.ToScalar());
}
