using System.Globalization;
using System.Text;

namespace Distill.Stages.Text;

/// <summary>The <c>decoder</c> of a tokenizer.json: how the tokens of a list of ids become text again. Like Hugging
/// Face's, each step maps the list of token strings to a new list; the result is their concatenation. Supported
/// types: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence.</summary>
public abstract class TokenDecoder
{
    public const string Supported = "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence";

    public abstract List<string> Decode(List<string> tokens);

    public static TokenDecoder? Read(TokenizerJsonNode node)
    {
        if (node.IsNull) return null;
        string type = node.Required("type").String();
        switch (type)
        {
            case "Sequence":
                return new Chain(node.Required("decoders").Items().Select(Read).OfType<TokenDecoder>().ToArray());
            case "ByteLevel":
                return new ByteLevel();
            case "Replace":
                var replace = TextPattern.Read(node.Required("pattern")).ReplaceWith(node.Required("content").String());
                return new PerToken((t, _) => replace(t));
            case "ByteFallback":
                return new ByteFallback();
            case "Fuse":
                return new Fuse();
            case "Strip":
                string content = node.Required("content").String();
                if (content.Length != 1) throw node.Required("content").Error("must be one character");
                int start = node.Optional("start").Int(0), stop = node.Optional("stop").Int(0);
                return new PerToken((t, _) => Strip(t, content[0], start, stop));
            case "Metaspace":
                string replacement = node.Required("replacement").String();
                string scheme = node.Optional("prepend_scheme").StringOrNull()
                    ?? (node.Optional("add_prefix_space").Bool(true) ? "always" : "never");
                return new PerToken((t, i) =>
                {
                    t = t.Replace(replacement, " ");
                    return i == 0 && scheme != "never" && t.StartsWith(' ') ? t[1..] : t;
                });
            default:
                throw node.Required("type").Error($"is '{type}', a decoder Distill does not support (supported: {Supported})");
        }
    }

    /// <summary>Up to <paramref name="start"/> leading and <paramref name="stop"/> trailing <paramref name="c"/> removed.</summary>
    private static string Strip(string token, char c, int start, int stop)
    {
        int from = 0, to = token.Length;
        while (from < to && from < start && token[from] == c) from++;
        while (to > from && token.Length - to < stop && token[to - 1] == c) to--;
        return token[from..to];
    }

    private sealed class Chain(TokenDecoder[] steps) : TokenDecoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            foreach (var step in steps) tokens = step.Decode(tokens);
            return tokens;
        }
    }

    private sealed class PerToken(Func<string, int, string> map) : TokenDecoder
    {
        public override List<string> Decode(List<string> tokens) => tokens.Select(map).ToList();
    }

    private sealed class Fuse : TokenDecoder
    {
        public override List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
    }

    /// <summary>Byte-level characters back to bytes, all tokens as one UTF-8 text (invalid bytes as U+FFFD); a token
    /// with a character outside the alphabet (an added token) gives its own UTF-8 bytes.</summary>
    private sealed class ByteLevel : TokenDecoder
    {
        public override List<string> Decode(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (var token in tokens)
            {
                var mapped = new List<byte>(token.Length);
                foreach (char c in token)
                {
                    if (!ByteLevelAlphabet.TryByte(c, out byte b)) { mapped = null; break; }
                    mapped.Add(b);
                }
                bytes.AddRange(mapped ?? [.. Encoding.UTF8.GetBytes(token)]);
            }
            return [Encoding.UTF8.GetString(bytes.ToArray())];
        }
    }

    /// <summary>Runs of byte tokens (<c>&lt;0x0A&gt;</c>) as the UTF-8 text they spell; a run that is not valid UTF-8
    /// gives one U+FFFD per byte token.</summary>
    private sealed class ByteFallback : TokenDecoder
    {
        private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

        public override List<string> Decode(List<string> tokens)
        {
            var result = new List<string>(tokens.Count);
            var run = new List<byte>();
            foreach (var token in tokens)
            {
                if (TryByte(token, out byte b)) { run.Add(b); continue; }
                Flush(run, result);
                result.Add(token);
            }
            Flush(run, result);
            return result;
        }

        private static void Flush(List<byte> run, List<string> result)
        {
            if (run.Count == 0) return;
            try { result.Add(Strict.GetString(run.ToArray())); }
            catch (DecoderFallbackException) { result.AddRange(Enumerable.Repeat("\uFFFD", run.Count)); }
            run.Clear();
        }

        public static bool TryByte(string token, out byte b)
        {
            b = 0;
            return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out b);
        }
    }
}
