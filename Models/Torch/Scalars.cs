using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Torch;

/// <summary>TorchSharp Scalars that outlive the native calls they are passed to. TorchSharp hands a Scalar's handle
/// to libtorch as a raw pointer and frees it in the Scalar's finalizer; a Scalar made on the fly (an implicit
/// <c>double -> Scalar</c> conversion, or one made inside TorchSharp, as in <c>a + b</c>, which passes alpha = 1) is
/// referenced by nothing once its handle has been read, so a garbage collection during the call may free it while
/// libtorch still reads it ("INTERNAL ASSERT FAILED at c10/core/Scalar.h", "Unknown scalar type"; dotnet/TorchSharp
/// pull requests 1434 and 1496). The analyzer in build/Analyzers makes such calls compile errors (DST0001-0003);
/// this class is what to use instead. <see cref="Of(double)"/> and <see cref="Of(long)"/> cache one Scalar per value
/// for the whole process: for constants, settings and sizes (a small set of values); a value that changes every
/// step belongs in a <c>using</c> local.</summary>
public static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();

    /// <summary>The integer 1 (alpha of <c>a.add(b, One)</c>; valid for integer and floating tensors).</summary>
    public static Scalar One { get; } = Of(1L);

    /// <summary>The integer 0.</summary>
    public static Scalar Zero { get; } = Of(0L);

    /// <summary>A floating-point Scalar of <paramref name="value"/>, alive for the process.</summary>
    public static Scalar Of(double value) => Doubles.GetOrAdd(value, v => v.ToScalar());

    /// <summary>An integer Scalar of <paramref name="value"/>, alive for the process (integer tensors refuse a
    /// floating-point alpha, and arange of integer Scalars is int64).</summary>
    public static Scalar Of(long value) => Longs.GetOrAdd(value, v => v.ToScalar());

    /// <summary><c>torch.arange(stop)</c>: int64 [stop] on <paramref name="device"/>.</summary>
    public static Tensor Arange(long stop, Device? device = null) => Arange(0, stop, device);

    /// <summary><c>torch.arange(start, stop)</c>: int64 [stop - start] on <paramref name="device"/>.</summary>
    public static Tensor Arange(long start, long stop, Device? device = null)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        return torch.arange(first, end, One, ScalarType.Int64, device);
    }

    /// <summary>The value of a one-element tensor (any device) as a double.</summary>
    public static double ToDouble(Tensor value) => Read(value, s => s.ToDouble());

    /// <summary>The value of a one-element tensor (any device) as a float.</summary>
    public static float ToSingle(Tensor value) => Read(value, s => s.ToSingle());

    /// <summary>The value of a one-element tensor (any device) as a long.</summary>
    public static long ToInt64(Tensor value) => Read(value, s => s.ToInt64());

    /// <summary>The value of a one-element tensor (any device) as a bool.</summary>
    public static bool ToBoolean(Tensor value) => Read(value, s => s.ToBoolean());

    /// <summary>Reads the tensor's value through a Scalar that lives until the read is done.</summary>
    private static T Read<T>(Tensor value, Func<Scalar, T> read)
    {
        using var scalar = value.ToScalar();
        return read(scalar);
    }
}
