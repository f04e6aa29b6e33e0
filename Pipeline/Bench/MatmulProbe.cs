using System.Diagnostics;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>What a plain matrix product reaches on this machine, as the yardstick for a model's achieved GFLOP/s:
/// [n, n] x [n, n] in <paramref name="dtype"/>, 2 n^3 FLOPs, median of <paramref name="repeats"/> after one warm-up.</summary>
public static class MatmulProbe
{
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
