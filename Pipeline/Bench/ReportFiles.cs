namespace Distill.Pipeline.Bench;

/// <summary>How the bench reports write their files.</summary>
internal static class ReportFiles
{
    /// <summary>Writes <paramref name="text"/> to a temporary file next to <paramref name="path"/> and moves it into
    /// place, so a reader never sees a half-written report.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
