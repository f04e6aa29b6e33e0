namespace Distill.Pipeline.Configuration;

/// <summary>The configuration cannot be used; <see cref="Errors"/> holds every problem found (not just the first),
/// each naming the key or file.</summary>
public sealed class ConfigurationErrorException : Exception
{
    public ConfigurationErrorException(IReadOnlyList<string> errors)
        : base(errors.Count == 1 ? errors[0] : $"{errors.Count} configuration errors:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
    {
        Errors = errors;
    }

    public IReadOnlyList<string> Errors { get; }
}
