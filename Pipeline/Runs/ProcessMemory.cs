using System.Globalization;
using System.Runtime.InteropServices;

namespace Distill.Pipeline.Runs;

/// <summary>This process's resident memory from <c>/proc/self/status</c> (Linux): the current RSS and its peak
/// (VmHWM), and resetting that peak to the current RSS (<c>/proc/self/clear_refs</c> = 5), so the peak of one piece of
/// work is measured without what the process did before. Elsewhere every figure is null.</summary>
public static class ProcessMemory
{
    private const string Status = "/proc/self/status", ClearRefs = "/proc/self/clear_refs";

    /// <summary>Current resident set in bytes.</summary>
    public static long? Rss => Kb("VmRSS");

    /// <summary>Peak resident set in bytes since the process started or <see cref="ResetPeak"/>.</summary>
    public static long? Peak => Kb("VmHWM");

    /// <summary>Hands memory the process has freed back to the system (glibc's <c>malloc_trim</c>), so that what a
    /// measurement allocates shows in the RSS instead of reusing pages freed before it; false where not possible.</summary>
    public static bool ReleaseFreed()
    {
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>Sets the peak to the current RSS; false where that is not possible.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText(ClearRefs, "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? Kb(string field)
    {
        if (!File.Exists(Status)) return null;
        foreach (var line in File.ReadLines(Status))
        {
            if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
            var parts = line[(field.Length + 1)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
        }
        return null;
    }
}
