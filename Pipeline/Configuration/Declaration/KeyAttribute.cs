namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>Declares a settings record's constructor parameter as a <c>distill</c> key: its kind and constraints.
/// The key's path is the parameter's section plus its name in kebab case (<c>D2dEpochs</c> -> <c>d2d-epochs</c>), or
/// <see cref="Name"/>. The default value lives only in <c>hocon/pipeline.conf</c>; <see cref="SettingsTree"/> derives
/// the schema and the binding from these declarations.</summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public abstract class KeyAttribute : Attribute
{
    /// <summary>The key's path below its section when it is not the kebab-case parameter name (may hold dots:
    /// <c>coordinator.port</c>).</summary>
    public string? Name { get; init; }

    /// <summary>What the key means, written beside it in the resolved configuration.</summary>
    public string Description { get; init; } = "";

    /// <summary>The schema entry of this declaration at <paramref name="path"/>.</summary>
    public abstract SchemaKey Declare(string path);
}
