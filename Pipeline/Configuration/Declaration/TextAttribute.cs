namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>Free text (a name, an address, a path kept as written); empty allowed unless <see cref="AllowEmpty"/> is
/// false.</summary>
public class TextAttribute : KeyAttribute
{
    public bool AllowEmpty { get; init; } = true;

    public override SchemaKey Declare(string path) => new StringKey(path, AllowEmpty, Description);
}

/// <summary>A file or folder path, bound absolute (relative to the working directory; <c>~/</c> is the home
/// folder). Empty binds to null for a <c>string?</c> parameter and to <c>""</c> otherwise.</summary>
public sealed class PathAttribute : TextAttribute
{
    /// <summary>The bound form of <paramref name="value"/> (null = empty).</summary>
    public static string? Resolve(string value) => value.Length == 0 ? null
        : System.IO.Path.GetFullPath(value.StartsWith("~/", StringComparison.Ordinal)
            ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value[2..])
            : value);
}
