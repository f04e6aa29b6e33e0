using System.Reflection;

namespace Distill.Pipeline.Configuration.Declaration;

/// <summary>One word of a fixed set (<see cref="List"/> false) or a list of them without duplicates. The words are
/// given inline or as the static <c>IReadOnlyList&lt;string&gt;</c> member <c>member</c> of <c>type</c>; a parameter
/// that is not a string is bound by <c>type</c>'s static <c>Parse(string)</c>.</summary>
public sealed class OneOfAttribute : KeyAttribute
{
    public OneOfAttribute(params string[] words) => Words = words;

    public OneOfAttribute(Type type, string member = "Names")
    {
        Source = type;
        var found = type.GetMember(member, BindingFlags.Public | BindingFlags.Static).SingleOrDefault()
            ?? throw new ArgumentException($"{type.Name} has no public static member {member}");
        Words = (found switch
        {
            PropertyInfo p => p.GetValue(null),
            FieldInfo f => f.GetValue(null),
            _ => null,
        }) as IReadOnlyList<string> ?? throw new ArgumentException($"{type.Name}.{member} is not a static IReadOnlyList<string>");
    }

    /// <summary>The allowed words.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>The type whose <c>Parse(string)</c> binds a non-string parameter; null for inline words.</summary>
    public Type? Source { get; }

    /// <summary>A list of words rather than one word.</summary>
    public bool List { get; init; }

    public override SchemaKey Declare(string path) =>
        List ? new EnumListKey(path, Words, Description: Description) : new EnumKey(path, Words, Description);

    /// <summary>The bound value of a validated word for a parameter of <paramref name="target"/>.</summary>
    public object Bind(string word, Type target)
    {
        if (target == typeof(string)) return word;
        var parse = Source?.GetMethod("Parse", BindingFlags.Public | BindingFlags.Static, [typeof(string)])
            ?? throw new InvalidOperationException($"a {target.Name} key needs a type with a static Parse(string); {Source?.Name ?? "inline words"} has none");
        return parse.Invoke(null, [word])!;
    }
}
