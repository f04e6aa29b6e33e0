using Distill.Stages.Text.Unicode;

namespace Distill.Stages.Text;

/// <summary>The <c>normalizer</c> of a tokenizer.json: what is done to the text (outside added tokens) before it is
/// split. Supported types: NFC, NFD, Lowercase, Prepend, Replace (string or regex), Strip and Sequence.</summary>
public abstract class TextNormalizer
{
    public const string Supported = "NFC, NFD, Lowercase, Prepend, Replace, Strip, Sequence";

    public abstract string Normalize(string text);

    /// <summary>The normalizer of a <c>normalizer</c> node (null when the node is null: text is kept as it is).</summary>
    public static TextNormalizer? Read(TokenizerJsonNode node)
    {
        if (node.IsNull) return null;
        string type = node.Required("type").String();
        return type switch
        {
            "Sequence" => new Chain(node.Required("normalizers").Items().Select(Read).OfType<TextNormalizer>().ToArray()),
            "NFC" => new Of(CanonicalNormalization.Nfc),
            "NFD" => new Of(CanonicalNormalization.Nfd),
            "Lowercase" => new Of(t => t.ToLowerInvariant()),
            "Prepend" => new Of(PrependOf(node.Required("prepend").String())),
            "Replace" => new Of(TextPattern.Read(node.Required("pattern")).ReplaceWith(node.Required("content").String())),
            "Strip" => new Of(StripOf(node.Optional("strip_left").Bool(true), node.Optional("strip_right").Bool(true))),
            _ => throw node.Required("type").Error($"is '{type}', a normalizer Distill does not support (supported: {Supported})"),
        };
    }

    private static Func<string, string> PrependOf(string prefix) => t => t.Length == 0 ? t : prefix + t;

    private static Func<string, string> StripOf(bool left, bool right) =>
        t => (left, right) switch { (true, true) => t.Trim(), (true, false) => t.TrimStart(), (false, true) => t.TrimEnd(), _ => t };

    private sealed class Of(Func<string, string> apply) : TextNormalizer
    {
        public override string Normalize(string text) => apply(text);
    }

    private sealed class Chain(TextNormalizer[] steps) : TextNormalizer
    {
        public override string Normalize(string text)
        {
            foreach (var step in steps) text = step.Normalize(text);
            return text;
        }
    }
}
