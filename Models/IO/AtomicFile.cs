using System.Text;

namespace Distill.Models.IO;

/// <summary>Writes a file under a temporary name in the same folder, flushes it to disk and renames it into place, so a
/// crash never leaves a half-written file under the final name and readers never see half a file. The temporary name
/// is <c>&lt;name&gt;.tmp-&lt;pid&gt;-&lt;guid&gt;</c> (<see cref="IsTempName"/>), so the owner of a folder can recognise and
/// delete what a crash left behind.
/// <para>The rename replaces a file of the same name. Every caller writes inside a folder Distill owns (its run
/// directory, teacher-output cache or Shapes dataset folder, which are checked at start-up and claimed through
/// <c>Distill.Stages.Workspace.OwnedFolder</c>), never to a path a user names file by file.</para></summary>
public static class AtomicFile
{
    /// <summary>What every temporary name contains.</summary>
    public const string TempInfix = ".tmp-";

    /// <summary>True for a temporary file of <see cref="AtomicFile"/> (one a crash may have left behind).</summary>
    public static bool IsTempName(string fileName) => fileName.Contains(TempInfix, StringComparison.Ordinal);

    /// <summary>Writes <paramref name="path"/> with what <paramref name="write"/> puts into the stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}{TempInfix}{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>UTF-8 without a byte order mark.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));
}
