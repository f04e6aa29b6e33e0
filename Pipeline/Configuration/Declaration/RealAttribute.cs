namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>] (an end open with
/// <see cref="MinExclusive"/> / <see cref="MaxExclusive"/>; <c>max</c> may be <see cref="double.PositiveInfinity"/>).</summary>
public sealed class RealAttribute(double min, double max) : KeyAttribute
{
    public bool MinExclusive { get; init; }
    public bool MaxExclusive { get; init; }

    public override SchemaKey Declare(string path) => new DoubleKey(path, min, max, MinExclusive, Description, MaxExclusive);
}
