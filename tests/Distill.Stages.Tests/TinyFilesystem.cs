using System.Diagnostics;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>A tmpfs of a few kilobytes mounted on a fresh temporary folder (needs root and CAP_SYS_ADMIN): a disk
/// that fills up. Unmounted and removed on dispose.</summary>
public sealed class TinyFilesystem : IDisposable
{
    private TinyFilesystem(string path) => Path = path;

    public string Path { get; }

    /// <summary>Null when this process cannot mount one here (then the message says why).</summary>
    public static TinyFilesystem? TryMount(int kilobytes, out string? why)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "distill-tinyfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        why = null;
        if (!Environment.IsPrivilegedProcess) why = "not running as root";
        else if (Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", path) is { } error) why = $"mount -t tmpfs failed: {error}";
        if (why is null) return new TinyFilesystem(path);
        Directory.Delete(path);
        return null;
    }

    private static string? Run(string file, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : err.Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }

    public void Dispose()
    {
        Run("umount", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A fact that needs a <see cref="TinyFilesystem"/>: skipped, saying why, where none can be mounted.</summary>
public sealed class TinyFilesystemFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        using var probe = TinyFilesystem.TryMount(64, out var why);
        return probe is null ? why : null;
    });

    public TinyFilesystemFactAttribute()
    {
        if (Unavailable.Value is { } why) Skip = $"needs a small tmpfs to fill up: {why}";
    }
}
