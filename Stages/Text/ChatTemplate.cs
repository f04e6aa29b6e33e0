namespace Distill.Stages.Text;

/// <summary>The chat sequence: <c>&lt;s&gt; &lt;|user|&gt; &lt;image&gt;×N question &lt;|assistant|&gt; answer &lt;/s&gt;</c>.
/// labels_mask is true on the answer tokens and the closing eos.</summary>
public static class ChatTemplate
{
    public static EncodedSample Encode(WordTokenizer tokenizer, string question, string answer, int imageTokens)
    {
        ArgumentNullException.ThrowIfNull(answer);
        int[] prompt = EncodePrompt(tokenizer, question, imageTokens);
        int[] response = [.. tokenizer.Encode(answer), tokenizer.EosId];
        if (response.Contains(tokenizer.ImageId))
            throw new ArgumentException($"The answer must not contain {WordTokenizer.ImageToken}: \"{answer}\"", nameof(answer));
        var mask = new bool[prompt.Length + response.Length];
        Array.Fill(mask, true, prompt.Length, response.Length);
        return new EncodedSample([.. prompt, .. response], mask);
    }

    /// <summary>The prompt alone, ending with the assistant marker (for generation).</summary>
    public static int[] EncodePrompt(WordTokenizer tokenizer, string question, int imageTokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(question);
        ArgumentOutOfRangeException.ThrowIfNegative(imageTokens);
        int[] q = tokenizer.Encode(question);
        if (q.Contains(tokenizer.ImageId))
            throw new ArgumentException(
                $"The question must not contain {WordTokenizer.ImageToken}; the template inserts {imageTokens} image tokens: \"{question}\"",
                nameof(question));
        var ids = new int[3 + imageTokens + q.Length];
        ids[0] = tokenizer.BosId;
        ids[1] = tokenizer.UserId;
        Array.Fill(ids, tokenizer.ImageId, 2, imageTokens);
        q.CopyTo(ids, 2 + imageTokens);
        ids[^1] = tokenizer.AssistantId;
        return ids;
    }
}

public sealed record EncodedSample(int[] InputIds, bool[] LabelsMask);
