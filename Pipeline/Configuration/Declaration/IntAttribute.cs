namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; bound to an <c>int</c>, a <c>long</c>,
/// or a <see cref="TimeSpan"/> of that many seconds.</summary>
public sealed class IntAttribute(long min, long max) : KeyAttribute
{
    /// <summary>An upper bound for counts of samples and prompts.</summary>
    public const long Big = 100_000_000;

    public override SchemaKey Declare(string path) => new IntKey(path, min, max, Description);
}
