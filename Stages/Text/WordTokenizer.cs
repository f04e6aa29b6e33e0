using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distill.Models.IO;

namespace Distill.Stages.Text;

/// <summary>Word-level tokenizer built from a training corpus. Text is lowercased and split into words
/// (<c>[a-z0-9]+</c>) and single punctuation characters; the literal "&lt;image&gt;" is the image token.
/// Ids 0..6 are the special tokens, then every corpus word in ordinal order. As an <see cref="ITokenizer"/> its decode
/// keeps the special tokens (its own <see cref="Decode"/>, which Shapes uses, skips them).</summary>
public sealed partial class WordTokenizer : ITokenizer
{
    public const string PadToken = "<pad>", BosToken = "<s>", EosToken = "</s>", UnkToken = "<unk>",
        ImageToken = "<image>", UserToken = "<|user|>", AssistantToken = "<|assistant|>";
    public const string Format = "distill-word-tokenizer/v1";

    /// <summary>The special tokens, in id order.</summary>
    public static readonly IReadOnlyList<string> SpecialTokens =
        [PadToken, BosToken, EosToken, UnkToken, ImageToken, UserToken, AssistantToken];

    private static readonly HashSet<string> NoSpaceBefore = [".", ",", "?", "!"];

    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;

    private WordTokenizer(string[] tokens)
    {
        _tokens = tokens;
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) _ids.Add(tokens[i], i);
        Hash = ComputeHash(tokens);
    }

    public int VocabSize => _tokens.Length;
    public int PadId => 0; public int BosId => 1; public int EosId => 2; public int UnkId => 3;
    public int ImageId => 4; public int UserId => 5; public int AssistantId => 6;

    /// <summary>sha256 (lowercase hex) of the token list, each token followed by '\n'.</summary>
    public string Hash { get; }

    /// <summary>Every token, index = id.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    public static bool IsSpecial(int id) => id >= 0 && id < SpecialTokens.Count;

    public static WordTokenizer Build(IEnumerable<string> corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var words = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var text in corpus)
            foreach (var w in Split(text ?? ""))
                if (w != ImageToken) words.Add(w);
        return new WordTokenizer([.. SpecialTokens, .. words]);
    }

    /// <summary>The words of a text as the tokenizer sees them (lowercased; "&lt;image&gt;" kept whole).</summary>
    public static IEnumerable<string> Split(string text) =>
        WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value);

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Split(text).Select(w => _ids.TryGetValue(w, out int id) ? id : UnkId).ToArray();
    }

    /// <summary>Words joined by spaces, no space before . , ? !; special tokens are skipped.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _tokens.Length)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary of {_tokens.Length}");
            if (IsSpecial(id)) continue;
            string w = _tokens[id];
            if (sb.Length > 0 && !NoSpaceBefore.Contains(w)) sb.Append(' ');
            sb.Append(w);
        }
        return sb.ToString();
    }

    /// <summary>Words and special tokens joined as <see cref="Decode"/> joins words (the interface's decode: special
    /// tokens kept).</summary>
    string ITokenizer.Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string w = TokenOf(id);
            if (sb.Length > 0 && !NoSpaceBefore.Contains(w)) sb.Append(' ');
            sb.Append(w);
        }
        return sb.ToString();
    }

    int? ITokenizer.TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;
    int? ITokenizer.BosId => BosId;
    int? ITokenizer.EosId => EosId;
    int? ITokenizer.PadId => PadId;

    public string TokenOf(int id) => id >= 0 && id < _tokens.Length
        ? _tokens[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_tokens.Length}");

    public void Save(string path)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new TokenizerFile(Format, _tokens),
            new JsonSerializerOptions { WriteIndented = true, NewLine = "\n", PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        AtomicFile.WriteAllBytes(path, json);
    }

    public static WordTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file not found: {path}", path);
        TokenizerFile? file;
        try
        {
            file = JsonSerializer.Deserialize<TokenizerFile>(File.ReadAllBytes(path),
                new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        }
        catch (JsonException e) { throw new InvalidDataException($"Malformed tokenizer JSON in {path}: {e.Message}", e); }
        if (file is null || file.Format != Format)
            throw new InvalidDataException($"{path}: format '{file?.Format}' is not {Format}");
        if (file.Tokens is null || file.Tokens.Length < SpecialTokens.Count)
            throw new InvalidDataException($"{path}: 'tokens' must list at least the {SpecialTokens.Count} special tokens");
        for (int i = 0; i < SpecialTokens.Count; i++)
            if (file.Tokens[i] != SpecialTokens[i])
                throw new InvalidDataException($"{path}: token {i} must be '{SpecialTokens[i]}', found '{file.Tokens[i]}'");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in file.Tokens)
            if (string.IsNullOrEmpty(t) || !seen.Add(t))
                throw new InvalidDataException($"{path}: token '{t}' is empty or listed twice");
        return new WordTokenizer(file.Tokens);
    }

    private static string ComputeHash(string[] tokens)
    {
        var sb = new StringBuilder();
        foreach (var t in tokens) sb.Append(t).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    [GeneratedRegex(@"<image>|[a-z0-9]+|[^\sa-z0-9]", RegexOptions.CultureInvariant)]
    private static partial Regex WordPattern();

    private sealed record TokenizerFile(string Format, string[] Tokens);
}
