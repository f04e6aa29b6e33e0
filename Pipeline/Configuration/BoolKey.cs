using Akka.Configuration.Hocon;

namespace Distill.Pipeline.Configuration;

/// <summary>A HOCON boolean: <c>true</c>/<c>false</c> (also <c>yes</c>/<c>no</c>, <c>on</c>/<c>off</c>).</summary>
public sealed record BoolKey(string Path, string Description = "") : SchemaKey(Path, Description)
{
    public override string Allowed => "true or false (also on / off, yes / no)";

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        switch (Literal(value)?.Trim())
        {
            case "true" or "yes" or "on": return true;
            case "false" or "no" or "off": return false;
            default:
                error = $"expected {Allowed}, got {Describe(value)}";
                return null;
        }
    }

    public override string Render(object value) => (bool)value ? "true" : "false";
}
