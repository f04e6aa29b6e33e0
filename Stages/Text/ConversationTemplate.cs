using System.Text;

namespace Distill.Stages.Text;

/// <summary>A chat template of a real model family: how a multi-turn conversation (human and assistant turns, human
/// first) becomes one token sequence, and which tokens are labels. Labels are every assistant turn's content and its
/// end-of-turn token (<c>&lt;/s&gt;</c>, <c>&lt;|im_end|&gt;</c>, <c>&lt;|eot_id|&gt;</c>: the model must learn to
/// stop); never the system prompt, a human turn, or the template's role headers and separators.
/// <para>The rendered text is tokenized whole, as Hugging Face tokenizes <c>apply_chat_template</c>'s output; a
/// token is a label when it lies in an assistant span, found by tokenizing the text up to each span boundary. A
/// boundary that a token straddles (the prefix's tokens are not a prefix of the whole's) is an error naming the
/// template and the turn, never a silent shift of the labels.</para></summary>
public abstract class ConversationTemplate
{
    public const string ImageToken = "<image>";

    /// <summary>The template's name in <c>distill.data.chat-template</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The token that ends an assistant turn: generation stops there.</summary>
    public abstract string EndOfTurn { get; }

    /// <summary>The conversation as text pieces in order, each marked true when it is an assistant span (content +
    /// end-of-turn token). A human turn's piece ends with the assistant's header, so a conversation that ends with a
    /// human turn renders as the prompt for generation.</summary>
    protected abstract IEnumerable<(string Text, bool Answer)> Render(IReadOnlyList<(bool Human, string Text)> turns);

    /// <summary>True when the sequence starts with the tokenizer's BOS id (added as an id, not written as text).</summary>
    protected virtual bool PrependBos => false;

    /// <summary>The ids and labels of a conversation: turns alternate human / assistant, human first, assistant last.</summary>
    public EncodedSample Encode(ITokenizer tokenizer, IReadOnlyList<(bool Human, string Text)> turns)
    {
        Check(turns, endsWithHuman: false);
        var pieces = Render(turns).ToList();
        var text = new StringBuilder();
        var boundaries = new List<(int Chars, bool AnswerBefore)>();
        foreach (var (piece, answer) in pieces)
        {
            text.Append(piece);
            boundaries.Add((text.Length, answer));
        }
        var full = Tokens(tokenizer, text.ToString());
        var labels = new bool[full.Length];
        var previous = Tokens(tokenizer, "").Length;
        for (var i = 0; i < boundaries.Count; i++)
        {
            var prefix = i == boundaries.Count - 1 ? full : Tokens(tokenizer, text.ToString(0, boundaries[i].Chars));
            if (prefix.Length > full.Length || !full.AsSpan(0, prefix.Length).SequenceEqual(prefix))
                throw new InvalidOperationException(
                    $"chat template {Name}: a token straddles the end of piece {i} (\"{Shorten(pieces[i].Text)}\"); the labels cannot be placed exactly");
            if (boundaries[i].AnswerBefore) Array.Fill(labels, true, previous, prefix.Length - previous);
            previous = prefix.Length;
        }
        return new EncodedSample(full, labels);
    }

    /// <summary>The prompt of a conversation that ends with a human turn, up to and including the assistant's header.</summary>
    public int[] EncodePrompt(ITokenizer tokenizer, IReadOnlyList<(bool Human, string Text)> turns)
    {
        Check(turns, endsWithHuman: true);
        return Tokens(tokenizer, string.Concat(Render(turns).Select(p => p.Text)));
    }

    private int[] Tokens(ITokenizer tokenizer, string text)
    {
        var ids = tokenizer.Encode(text);
        if (!PrependBos) return ids;
        var bos = tokenizer.BosId ?? throw new InvalidOperationException($"chat template {Name} starts with BOS, but the tokenizer has none");
        return [bos, .. ids];
    }

    private void Check(IReadOnlyList<(bool Human, string Text)> turns, bool endsWithHuman)
    {
        if (turns.Count == 0) throw new ArgumentException($"chat template {Name}: a conversation needs at least one turn", nameof(turns));
        for (var i = 0; i < turns.Count; i++)
            if (turns[i].Human != (i % 2 == 0))
                throw new ArgumentException($"chat template {Name}: turn {i} should be {(i % 2 == 0 ? "human" : "assistant")}", nameof(turns));
        if (turns[^1].Human != endsWithHuman)
            throw new ArgumentException($"chat template {Name}: the last turn should be {(endsWithHuman ? "human (a prompt)" : "the assistant's")}", nameof(turns));
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
