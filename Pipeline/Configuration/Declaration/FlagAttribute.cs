namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>A boolean (<c>true</c>/<c>false</c>, <c>yes</c>/<c>no</c>, <c>on</c>/<c>off</c>).</summary>
public sealed class FlagAttribute : KeyAttribute
{
    public override SchemaKey Declare(string path) => new BoolKey(path, Description);
}
