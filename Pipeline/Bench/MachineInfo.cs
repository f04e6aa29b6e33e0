using System.Globalization;
using System.Runtime.InteropServices;

namespace Distill.Pipeline.Bench;

/// <summary>The machine a benchmark ran on: cores, torch threads, CPU, OS, runtime, and the load average (Linux) at
/// its start and end, which shows whether other processes shared the cores.</summary>
public sealed record MachineInfo(int Cores, int TorchThreads, string Cpu, string Os, string Runtime, string LoadAtStart)
{
    public string LoadAtEnd { get; init; } = "";

    public static MachineInfo Now(int torchThreads) => new(Environment.ProcessorCount, torchThreads, CpuModel(),
        RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, LoadAverage());

    /// <summary>"1-min 5-min 15-min" from /proc/loadavg; "n/a" elsewhere.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts.Length >= 3 ? string.Join(" ", parts.Take(3)) : "n/a";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return RuntimeInformation.ProcessArchitecture.ToString().ToLower(CultureInfo.InvariantCulture);
    }
}
