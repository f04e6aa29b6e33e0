using System.Security.Cryptography;

namespace Distill.Stages.Tests;

/// <summary>Every folder and file under a root, files with the sha256 of their bytes: equal snapshots mean nothing
/// was added, removed or changed.</summary>
public static class FolderSnapshot
{
    public static IReadOnlyList<string> Of(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Directory.Exists(p)
                ? Path.GetRelativePath(root, p) + "/"
                : Path.GetRelativePath(root, p) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p))))
            .Order(StringComparer.Ordinal)
            .ToList();
}
