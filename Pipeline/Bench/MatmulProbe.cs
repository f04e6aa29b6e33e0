using System.Diagnostics;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>What a plain matrix product reaches on this machine, as the yardstick for a model's achieved GFLOP/s:
/// [n, n] x [n, n] in <paramref name="dtype"/>, 2 n^3 FLOPs, median of <paramref name="repeats"/> after one warm-up.</summary>
public static class MatmulProbe
{
    /// <summary>The probe's size for a model of hidden size <paramref name="hidden"/>: the next power of two, 256 to
    /// 2048, so a tiny model is not measured against a product hundreds of times its own (which, in a dtype the CPU
    /// has no instructions for, such as bfloat16 without AVX512-BF16, takes minutes).</summary>
    public static int SizeFor(long hidden) => (int)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(hidden, 1)), 256, 2048);

    public static double Gflops(ScalarType dtype, int n = 2048, int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var a = randn([n, n], dtype);
        var b = randn([n, n], dtype);
        var times = new List<double>();
        for (var r = 0; r <= repeats; r++)
        {
            var watch = Stopwatch.StartNew();
            using var c = a.matmul(b);
            watch.Stop();
            if (r > 0) times.Add(watch.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / ModelBench.Median(times) / 1e9;
    }
}
