using Distill.Models.IO;

namespace Distill.Pipeline.Bench;

/// <summary>How every bench report lands on disk: its CSV and Markdown files in one folder, each written atomically.</summary>
internal static class BenchFiles
{
    /// <summary>Writes <paramref name="csv"/> and <paramref name="markdown"/> into <paramref name="directory"/>
    /// (created) under the given names; returns their paths.</summary>
    public static (string Csv, string Markdown) Write(string directory, string csvFile, string csv, string markdownFile, string markdown)
    {
        Directory.CreateDirectory(directory);
        var csvPath = Path.Combine(directory, csvFile);
        var markdownPath = Path.Combine(directory, markdownFile);
        AtomicFile.WriteAllText(csvPath, csv);
        AtomicFile.WriteAllText(markdownPath, markdown);
        return (csvPath, markdownPath);
    }
}
