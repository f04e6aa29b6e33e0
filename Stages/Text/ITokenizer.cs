namespace Distill.Stages.Text;

/// <summary>What the data path, the chat templates and evaluation need of a tokenizer: Shapes' word tokenizer and a
/// Hugging Face <c>tokenizer.json</c> both serve through it.</summary>
public interface ITokenizer
{
    /// <summary>Size of the id space (the model's <c>vocab_size</c> must be at least this).</summary>
    int VocabSize { get; }

    /// <summary>The ids of <paramref name="text"/> with no BOS/EOS added; special and added tokens written in the text
    /// are matched (Hugging Face's <c>encode(text, add_special_tokens=False)</c>).</summary>
    int[] Encode(string text);

    /// <summary>The text of <paramref name="ids"/>, special tokens kept (<c>decode(ids, skip_special_tokens=False)</c>).</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>The id of a token of the vocabulary (added and special tokens included), or null.</summary>
    int? TokenToId(string token);

    /// <summary>BOS, EOS and pad ids as the tokenizer's configuration says; null when it has none.</summary>
    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }

    /// <summary>A content hash of the tokenizer's files: teacher and student must share it.</summary>
    string Hash { get; }
}
