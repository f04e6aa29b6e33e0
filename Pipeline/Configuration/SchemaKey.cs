using System.Globalization;
using Akka.Configuration.Hocon;

namespace Distill.Pipeline.Configuration;

/// <summary>A typed value read from HOCON: <see cref="long"/>, <see cref="double"/>, <see cref="string"/> or a
/// string list. Rendered back to HOCON by <see cref="SchemaKey.Render"/>.</summary>
public abstract record SchemaKey(string Path, string Description)
{
    /// <summary>The last path segment (<c>d2d-epochs</c> for <c>distill.mimic.d2d-epochs</c>).</summary>
    public string Name => Path[(Path.LastIndexOf('.') + 1)..];

    /// <summary>What the key accepts, for error messages ("an integer in 1..64").</summary>
    public abstract string Allowed { get; }

    /// <summary>Converts one HOCON value; returns null and sets <paramref name="error"/> when it does not fit.</summary>
    public abstract object? Convert(HoconValue value, out string? error);

    /// <summary>HOCON text of a converted value.</summary>
    public abstract string Render(object value);

    internal static string Describe(HoconValue value)
    {
        if (value.IsObject()) return "an object";
        if (value.IsArray()) return "[" + string.Join(", ", value.GetArray().Select(v => v.IsString() ? v.GetString() : "...")) + "]";
        var s = Literal(value);
        return s is null ? "null" : "'" + s + "'";
    }

    /// <summary>The literal text of a scalar value, null for a HOCON null or an object/array.</summary>
    internal static string? Literal(HoconValue value)
    {
        if (value.IsObject() || value.IsArray() || !value.IsString()) return null;
        if (value.Values.Count == 1 && value.Values[0] is HoconLiteral lit && lit.Value is null) return null;
        return value.GetString();
    }

    internal static string Quote(string s)
    {
        var sb = new System.Text.StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

/// <summary>A whole number in [Min, Max].</summary>
public sealed record IntKey(string Path, long Min, long Max, string Description = "") : SchemaKey(Path, Description)
{
    public override string Allowed => Max == long.MaxValue ? $"an integer >= {Min}" : $"an integer in {Min}..{Max}";

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        var s = Literal(value);
        if (s is null || !long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
        {
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        if (n < Min || n > Max)
        {
            error = $"{n} is out of range; allowed: {Allowed}";
            return null;
        }
        return n;
    }

    public override string Render(object value) => ((long)value).ToString(CultureInfo.InvariantCulture);
}

/// <summary>A finite real number in [Min, Max] (an end is open when <see cref="MinExclusive"/> /
/// <see cref="MaxExclusive"/>).</summary>
public sealed record DoubleKey(string Path, double Min, double Max, bool MinExclusive, string Description = "", bool MaxExclusive = false)
    : SchemaKey(Path, Description)
{
    public override string Allowed => (MinExclusive, double.IsPositiveInfinity(Max)) switch
    {
        (true, true) => $"a number > {Fmt(Min)}",
        (false, true) => $"a number >= {Fmt(Min)}",
        (true, false) => $"a number in ({Fmt(Min)}, {Fmt(Max)}{(MaxExclusive ? ")" : "]")}",
        (false, false) => $"a number in [{Fmt(Min)}, {Fmt(Max)}{(MaxExclusive ? ")" : "]")}",
    };

    private static string Fmt(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        var s = Literal(value);
        if (s is null || !double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
        {
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        if (d < Min || (MinExclusive && d == Min) || d > Max || (MaxExclusive && d == Max))
        {
            error = $"{Fmt(d)} is out of range; allowed: {Allowed}";
            return null;
        }
        return d;
    }

    public override string Render(object value) => Fmt((double)value);
}

/// <summary>Free text (a path, a name); empty allowed unless <see cref="AllowEmpty"/> is false.</summary>
public sealed record StringKey(string Path, bool AllowEmpty = true, string Description = "") : SchemaKey(Path, Description)
{
    public override string Allowed => AllowEmpty ? "a string" : "a non-empty string";

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        var s = Literal(value);
        if (s is null)
        {
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        if (!AllowEmpty && s.Length == 0)
        {
            error = $"must not be empty";
            return null;
        }
        return s;
    }

    public override string Render(object value) => Quote((string)value);
}

/// <summary>One of a fixed set of words.</summary>
public sealed record EnumKey(string Path, IReadOnlyList<string> Values, string Description = "") : SchemaKey(Path, Description)
{
    public override string Allowed => "one of " + string.Join(", ", Values);

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        var s = Literal(value);
        if (s is null)
        {
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        if (!Values.Contains(s.Trim(), StringComparer.Ordinal))
        {
            error = $"'{s}' is not allowed; allowed: {string.Join(", ", Values)}";
            return null;
        }
        return s.Trim();
    }

    public override string Render(object value) => (string)value;
}

/// <summary>A list of words from a fixed set, without duplicates, at least <see cref="MinCount"/> long.</summary>
public sealed record EnumListKey(string Path, IReadOnlyList<string> Values, int MinCount = 1, string Description = "") : SchemaKey(Path, Description)
{
    public override string Allowed => $"a list of {string.Join(", ", Values)} (no duplicates" + (MinCount > 0 ? $", at least {MinCount})" : ")");

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        if (!value.IsArray())
        {
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        var items = new List<string>();
        var problems = new List<string>();
        foreach (var item in value.GetArray())
        {
            var s = Literal(item)?.Trim();
            if (s is null) { problems.Add($"item {Describe(item)} is not a word"); continue; }
            if (!Values.Contains(s, StringComparer.Ordinal)) problems.Add($"'{s}' is not allowed");
            else if (items.Contains(s)) problems.Add($"'{s}' appears twice");
            else items.Add(s);
        }
        if (problems.Count == 0 && items.Count < MinCount) problems.Add($"needs at least {MinCount} item(s)");
        if (problems.Count > 0)
        {
            error = string.Join("; ", problems) + $"; allowed: {Allowed}";
            return null;
        }
        return (IReadOnlyList<string>)items.ToArray();
    }

    public override string Render(object value) => "[" + string.Join(", ", (IReadOnlyList<string>)value) + "]";
}
