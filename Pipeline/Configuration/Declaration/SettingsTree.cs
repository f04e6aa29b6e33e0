using System.Reflection;
using System.Text;

namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>The <c>distill</c> keys as the settings records declare them: every constructor parameter of
/// <see cref="DistillSettings"/> and of the section records under it is either a key (<see cref="KeyAttribute"/>) or
/// a section (a record whose parameters are keys). <see cref="Keys"/> is the schema, in declaration order;
/// <see cref="Bind"/> builds the settings from validated values. A key is therefore declared once, beside the field
/// that holds it, with its default in <c>hocon/pipeline.conf</c>.</summary>
public static class SettingsTree
{
    /// <summary>One declared key: its schema entry, the parameter it binds to and that parameter's declaration.</summary>
    public sealed record Leaf(SchemaKey Key, ParameterInfo Parameter, KeyAttribute Declaration);

    public static IReadOnlyList<Leaf> Leaves { get; } = Walk(typeof(DistillSettings), ConfigSchema.RootKey).ToArray();

    public static IReadOnlyList<SchemaKey> Keys { get; } = Leaves.Select(l => l.Key).ToArray();

    /// <summary>The settings of validated <paramref name="values"/> (path -> converted value, as
    /// <see cref="SchemaKey.Convert"/> gives them).</summary>
    public static DistillSettings Bind(IReadOnlyDictionary<string, object> values) =>
        (DistillSettings)Build(typeof(DistillSettings), ConfigSchema.RootKey, values)!;

    /// <summary><c>D2dEpochs</c> -> <c>d2d-epochs</c>, <c>TopP</c> -> <c>top-p</c>.</summary>
    public static string Kebab(string name)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]))) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static ParameterInfo[] ParametersOf(Type record) =>
        record.GetConstructors().MaxBy(c => c.GetParameters().Length)?.GetParameters()
        ?? throw new InvalidOperationException($"{record.Name} has no public constructor");

    private static string Join(string section, string name) => name.Length == 0 ? section : section + "." + name;

    private static IEnumerable<Leaf> Walk(Type record, string section)
    {
        foreach (var p in ParametersOf(record))
        {
            if (p.GetCustomAttribute<KeyAttribute>() is { } key)
            {
                yield return new Leaf(key.Declare(Join(section, key.Name ?? Kebab(p.Name!))), p, key);
                continue;
            }
            var nested = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
            if (!nested.IsClass || nested == typeof(string))
                throw new InvalidOperationException($"{record.Name}.{p.Name} is neither a declared key nor a section record");
            var name = p.GetCustomAttribute<SectionAttribute>()?.Name ?? Kebab(p.Name!);
            foreach (var leaf in Walk(nested, Join(section, name))) yield return leaf;
        }
    }

    private static object? Build(Type record, string section, IReadOnlyDictionary<string, object> values)
    {
        var parameters = ParametersOf(record);
        var args = new object?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            if (p.GetCustomAttribute<KeyAttribute>() is { } key)
            {
                var path = Join(section, key.Name ?? Kebab(p.Name!));
                var value = values.TryGetValue(path, out var v) ? v : throw new InvalidOperationException($"{path} was not validated");
                args[i] = Convert(key, value, p);
                continue;
            }
            var nested = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
            args[i] = Build(nested, Join(section, p.GetCustomAttribute<SectionAttribute>()?.Name ?? Kebab(p.Name!)), values);
        }
        var built = Activator.CreateInstance(record, args)!;
        return built is IOptionalSection { IsSet: false } ? null : built;
    }

    private static object? Convert(KeyAttribute key, object value, ParameterInfo p)
    {
        var target = p.ParameterType;
        return key switch
        {
            PathAttribute => PathAttribute.Resolve((string)value) ?? (IsNullable(p) ? null : ""),
            OneOfAttribute { List: true } => value,
            OneOfAttribute words => words.Bind((string)value, target),
            PlacementAttribute => value as IReadOnlyList<int>,
            IntAttribute when target == typeof(int) => checked((int)(long)value),
            IntAttribute when target == typeof(TimeSpan) => TimeSpan.FromSeconds((long)value),
            _ => value,
        };
    }

    private static bool IsNullable(ParameterInfo p) =>
        new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable;
}
