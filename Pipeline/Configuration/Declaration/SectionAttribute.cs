namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>Marks a settings record parameter whose own parameters are keys: under <see cref="Name"/> (default: the
/// kebab-case parameter name; <c>""</c> = the same section as the parameter, as the optimiser keys of a stage).</summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class SectionAttribute : Attribute
{
    public string? Name { get; init; }
}

/// <summary>A section record that may be absent: bound, then replaced by null when <see cref="IsSet"/> is false (a
/// LLaVA dataset when <c>distill.data.train</c> is empty).</summary>
public interface IOptionalSection
{
    bool IsSet { get; }
}
