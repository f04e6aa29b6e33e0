namespace Distill.Stages.Data.Llava;

/// <summary>Resolves a sample's <c>image</c> against its image folder. A path that leaves the folder (<c>..</c>, an
/// absolute path elsewhere, a link is not followed here) is refused and never read.</summary>
public static class ImagePaths
{
    /// <summary>The absolute path of <paramref name="image"/> inside <paramref name="imageFolder"/>, or the reason it
    /// cannot be used.</summary>
    public static (string? Path, string? Error) Resolve(string imageFolder, string image)
    {
        if (string.IsNullOrWhiteSpace(image)) return (null, "'image' is empty");
        if (image.Contains('\0')) return (null, "'image' holds a NUL character");
        var root = System.IO.Path.GetFullPath(imageFolder);
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, image));
        var prefix = root.EndsWith(System.IO.Path.DirectorySeparatorChar) ? root : root + System.IO.Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
            return (null, $"image '{image}' escapes the image folder {root} (refused, not read)");
        if (!File.Exists(full)) return (null, $"image file not found: {full}");
        if (new FileInfo(full).Length == 0) return (null, $"image file is empty: {full}");
        return (full, null);
    }
}
