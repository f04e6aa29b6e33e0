using System.Text;

namespace Distill.Stages.Text;

/// <summary>The <c>pre_tokenizer</c> of a tokenizer.json: how normalized text is cut into the words BPE merges
/// within. Supported types: Split (string or regex; every behavior, invert), ByteLevel (GPT-2's regex, prefix
/// space, byte alphabet), Metaspace and Sequence.</summary>
public abstract class PreTokenizer
{
    public const string Supported = "Split, ByteLevel, Metaspace, Sequence";

    /// <summary>GPT-2's split, ByteLevel's use_regex.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Cuts every piece further. A piece's AtStart: it starts where the whole text starts.</summary>
    public abstract List<(string Text, bool AtStart)> Split(List<(string Text, bool AtStart)> pieces);

    public static PreTokenizer? Read(TokenizerJsonNode node)
    {
        if (node.IsNull) return null;
        string type = node.Required("type").String();
        switch (type)
        {
            case "Sequence":
                return new Chain(node.Required("pretokenizers").Items().Select(Read).OfType<PreTokenizer>().ToArray());
            case "Split":
                var behaviorNode = node.Required("behavior");
                string behavior = behaviorNode.String();
                if (!SplitBehaviors.Contains(behavior))
                    throw behaviorNode.Error($"is '{behavior}', not one of {string.Join(", ", SplitBehaviors)}");
                return new PatternSplit(TextPattern.Read(node.Required("pattern")), behavior, node.Optional("invert").Bool(false));
            case "ByteLevel":
                bool useRegex = node.Optional("use_regex").Bool(true);
                return new ByteLevel(node.Optional("add_prefix_space").Bool(true),
                    useRegex ? new PatternSplit(TextPattern.OfRegex(Gpt2Pattern), "Isolated", false) : null);
            case "Metaspace":
                string replacement = node.Required("replacement").String();
                if (replacement.Length != 1) throw node.Required("replacement").Error("must be one character");
                string scheme = node.Optional("prepend_scheme").StringOrNull()
                    ?? (node.Optional("add_prefix_space").Bool(true) ? "always" : "never");
                if (scheme is not ("always" or "first" or "never"))
                    throw node.Required("prepend_scheme").Error($"is '{scheme}', not always, first or never");
                return new Metaspace(replacement[0], scheme, node.Optional("split").Bool(true));
            default:
                throw node.Required("type").Error($"is '{type}', a pre-tokenizer Distill does not support (supported: {Supported})");
        }
    }

    private static readonly string[] SplitBehaviors = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

    private sealed class Chain(PreTokenizer[] steps) : PreTokenizer
    {
        public override List<(string Text, bool AtStart)> Split(List<(string Text, bool AtStart)> pieces)
        {
            foreach (var step in steps) pieces = step.Split(pieces);
            return pieces;
        }
    }

    /// <summary>HF's Split: the text cut at every match of a pattern, the matches kept or dropped by behavior.</summary>
    private sealed class PatternSplit(TextPattern pattern, string behavior, bool invert) : PreTokenizer
    {
        public override List<(string Text, bool AtStart)> Split(List<(string Text, bool AtStart)> pieces)
        {
            var result = new List<(string, bool)>();
            foreach (var (text, atStart) in pieces)
                foreach (var (start, length) in Cut(text))
                    result.Add((text.Substring(start, length), atStart && start == 0));
            return result;
        }

        private List<(int Start, int Length)> Cut(string text)
        {
            // Every span of the text, in order, marked matched or not.
            var spans = new List<(int Start, int Length, bool Matched)>();
            int at = 0;
            foreach (var (start, length) in pattern.Matches(text))
            {
                if (start > at) spans.Add((at, start - at, invert));
                spans.Add((start, length, !invert));
                at = start + length;
            }
            if (at < text.Length) spans.Add((at, text.Length - at, invert));

            var cut = new List<(int Start, int Length)>();
            bool glueNext = false, lastMatched = false;
            foreach (var (start, length, matched) in spans)
            {
                switch (behavior)
                {
                    case "Removed":
                        if (!matched) cut.Add((start, length));
                        break;
                    case "Isolated":
                        cut.Add((start, length));
                        break;
                    case "MergedWithPrevious":
                        if (matched && cut.Count > 0) Extend(cut, length);
                        else cut.Add((start, length));
                        break;
                    case "MergedWithNext":
                        if (glueNext) Extend(cut, length);
                        else cut.Add((start, length));
                        glueNext = matched;
                        break;
                    default: // Contiguous
                        if (matched && lastMatched && cut.Count > 0) Extend(cut, length);
                        else cut.Add((start, length));
                        break;
                }
                lastMatched = matched;
            }
            return cut;
        }

        private static void Extend(List<(int Start, int Length)> cut, int by) =>
            cut[^1] = (cut[^1].Start, cut[^1].Length + by);
    }

    /// <summary>HF's ByteLevel: an optional prefix space, GPT-2's split (use_regex), then every UTF-8 byte as its
    /// <see cref="ByteLevelAlphabet"/> character.</summary>
    private sealed class ByteLevel(bool addPrefixSpace, PatternSplit? split) : PreTokenizer
    {
        public override List<(string Text, bool AtStart)> Split(List<(string Text, bool AtStart)> pieces)
        {
            if (addPrefixSpace)
                pieces = pieces.Select(p => p.Text.StartsWith(' ') ? p : (" " + p.Text, p.AtStart)).ToList();
            if (split is not null) pieces = split.Split(pieces);
            return pieces.Select(p => (ToAlphabet(p.Text), p.AtStart)).ToList();
        }

        private static string ToAlphabet(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var chars = new char[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) chars[i] = ByteLevelAlphabet.Of(bytes[i]);
            return new string(chars);
        }
    }

    /// <summary>HF's Metaspace: spaces as the replacement character ('▁'), prepended always or to the text's first
    /// piece, then (split) cut before every replacement character.</summary>
    private sealed class Metaspace(char replacement, string scheme, bool split) : PreTokenizer
    {
        public override List<(string Text, bool AtStart)> Split(List<(string Text, bool AtStart)> pieces)
        {
            var result = new List<(string, bool)>();
            foreach (var (raw, atStart) in pieces)
            {
                string text = raw.Replace(' ', replacement);
                bool prepend = scheme == "always" || (scheme == "first" && atStart);
                if (prepend && !text.StartsWith(replacement)) text = replacement + text;
                if (!split) { result.Add((text, atStart)); continue; }
                int from = 0;
                for (int i = 1; i <= text.Length; i++)
                    if (i == text.Length || text[i] == replacement)
                    {
                        result.Add((text[from..i], atStart && from == 0));
                        from = i;
                    }
            }
            return result;
        }
    }
}
