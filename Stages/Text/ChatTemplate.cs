namespace Distill.Stages.Text;

/// <summary>The chat sequence: <c>&lt;s&gt; &lt;|user|&gt; &lt;image&gt;×N question &lt;|assistant|&gt; answer &lt;/s&gt;</c>.
/// labels_mask is true on the answer tokens and the closing eos.</summary>
public static class ChatTemplate
{
    public static EncodedSample Encode(WordTokenizer tokenizer, string question, string answer, int imageTokens) => throw new NotImplementedException();
    /// <summary>The prompt alone, ending with the assistant marker (for generation).</summary>
    public static int[] EncodePrompt(WordTokenizer tokenizer, string question, int imageTokens) => throw new NotImplementedException();
}

public sealed record EncodedSample(int[] InputIds, bool[] LabelsMask);
