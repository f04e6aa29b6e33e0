using System.Security.Cryptography;

namespace Distill.Stages.Text;

/// <summary>A Hugging Face tokenizer read from a folder's <c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>,
/// <c>special_tokens_map.json</c>): BPE, byte-level (Qwen2/Qwen3, Llama 3, GPT-2) or SentencePiece-style with byte
/// fallback (Llama 2, Mistral, Gemma), added and special tokens matched inside the text, decode exact.
///
/// Distill's own implementation of the file's pipeline (added tokens → normalizer → pre-tokenizer → BPE; decoder),
/// chosen by measured parity with Hugging Face's Rust library on 49 hard strings: 49/49 ids and decodes on each of
/// Qwen3, Llama 3 and a SentencePiece-style file (tests/fixtures/tokenizers/TOKENIZER-FILES.md has the comparison with the
/// packaged alternatives). It is plain C# with no native library, so it runs wherever Stages runs.</summary>
public sealed class HfTokenizer : ITokenizer
{
    public const string TokenizerFile = "tokenizer.json";

    private readonly AddedTokenSplitter _rawAdded, _normalizedAdded;
    private readonly TextNormalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly TokenDecoder? _decoder;
    private readonly Dictionary<string, int> _addedIds;
    private readonly string?[] _tokens; // id → token (added tokens over the vocabulary)

    private HfTokenizer(string directory, BpeModel model, IReadOnlyList<AddedToken> added, TextNormalizer? normalizer,
        PreTokenizer? preTokenizer, TokenDecoder? decoder, string hash)
    {
        Directory = directory;
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        _model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoder = decoder;
        AddedTokens = added;
        _rawAdded = new AddedTokenSplitter(added.Where(t => !t.Normalized));
        _normalizedAdded = new AddedTokenSplitter(added.Where(t => t.Normalized)
            .Select(t => t with { Content = normalizer?.Normalize(t.Content) ?? t.Content }).Where(t => t.Content.Length > 0));
        _addedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in added) _addedIds[t.Content] = t.Id;
        int size = Math.Max(model.Vocab.Count == 0 ? 0 : model.Vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
        _tokens = new string?[size];
        foreach (var (token, id) in model.Vocab) _tokens[id] = token;
        foreach (var t in added) _tokens[t.Id] = t.Content;
        Hash = hash;
    }

    /// <summary>The folder it was read from, and that folder's name.</summary>
    public string Directory { get; }
    public string Name { get; }

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    public int VocabSize => _tokens.Length;
    public int? BosId { get; private set; }
    public int? EosId { get; private set; }
    public int? PadId { get; private set; }

    /// <summary>Whether the model's own encoding adds BOS / EOS (tokenizer_config.json's add_bos_token /
    /// add_eos_token; when absent, whether tokenizer.json's post_processor puts that token around the text).</summary>
    public bool AddsBos { get; private set; }
    public bool AddsEos { get; private set; }

    /// <summary>sha256 (lowercase hex) of tokenizer.json's bytes.</summary>
    public string Hash { get; }

    /// <summary>Reads a tokenizer folder. Errors name the file and the key: a missing folder or tokenizer.json,
    /// malformed JSON, a model other than BPE, a normalizer, pre-tokenizer or decoder Distill does not support.</summary>
    public static HfTokenizer Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Tokenizer folder not found: {directory}");
        string file = Path.Combine(directory, TokenizerFile);
        if (!File.Exists(file))
            throw new FileNotFoundException($"{file} not found: a Hugging Face tokenizer folder holds tokenizer.json", file);
        byte[] bytes = File.ReadAllBytes(file);
        var root = TokenizerJsonNode.ReadFile(file, bytes);

        var model = BpeModel.Read(root.Required("model"));
        var addedNode = root.Optional("added_tokens");
        var added = addedNode.IsNull ? [] : addedNode.Items().Select(AddedToken.Read).ToList();
        var config = HfTokenizerConfig.Read(directory);
        var post = PostProcessorTokens(root.Optional("post_processor"));

        var tokenizer = new HfTokenizer(directory, model, added, TextNormalizer.Read(root.Optional("normalizer")),
            PreTokenizer.Read(root.Optional("pre_tokenizer")), TokenDecoder.Read(root.Optional("decoder")),
            Convert.ToHexStringLower(SHA256.HashData(bytes)));
        int? Id(string? token, string key) => token is null ? null : tokenizer.TokenToId(token)
            ?? throw new InvalidDataException($"{Path.Combine(directory, HfTokenizerConfig.ConfigFile)}: '{key}' is '{token}', which is not a token of {file}");
        tokenizer.BosId = Id(config.BosToken, "bos_token");
        tokenizer.EosId = Id(config.EosToken, "eos_token");
        tokenizer.PadId = Id(config.PadToken, "pad_token");
        tokenizer.AddsBos = config.AddBosToken ?? (config.BosToken is not null && post.First == config.BosToken);
        tokenizer.AddsEos = config.AddEosToken ?? (config.EosToken is not null && post.Last == config.EosToken);
        return tokenizer;
    }

    /// <summary>The special tokens a TemplateProcessing post_processor puts first and last around a single text.</summary>
    private static (string? First, string? Last) PostProcessorTokens(TokenizerJsonNode post)
    {
        if (post.IsNull || post.Optional("type").StringOrNull() != "TemplateProcessing") return (null, null);
        var single = post.Optional("single");
        if (single.IsNull) return (null, null);
        var items = single.Items().ToList();
        string? Special(TokenizerJsonNode item)
        {
            var special = item.Optional("SpecialToken");
            return special.IsNull ? null : special.Required("id").String();
        }
        return items.Count == 0 ? (null, null) : (Special(items[0]), Special(items[^1]));
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var (raw, rawId, rawStart) in _rawAdded.Split(text))
        {
            if (rawId is int token) { ids.Add(token); continue; }
            string normalized = _normalizer?.Normalize(raw) ?? raw;
            foreach (var (piece, pieceId, pieceStart) in _normalizedAdded.Split(normalized))
            {
                if (pieceId is int inner) { ids.Add(inner); continue; }
                List<(string Text, bool AtStart)> words = [(piece, rawStart == 0 && pieceStart == 0)];
                if (_preTokenizer is not null) words = _preTokenizer.Split(words);
                foreach (var (word, _) in words) _model.Tokenize(word, ids);
            }
        }
        return [.. ids];
    }

    /// <summary>Ids outside the vocabulary are left out, as Hugging Face's decoder leaves them (a checkpoint's
    /// <c>vocab_size</c> may exceed the tokenizer's ids, and a model can generate the padding ids).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
            if (id >= 0 && id < _tokens.Length && _tokens[id] is { } token) tokens.Add(token);
        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.Decode(tokens));
    }

    public int? TokenToId(string token) =>
        _addedIds.TryGetValue(token, out int added) ? added : _model.Vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>The token of an id (added tokens included), or null.</summary>
    public string? IdToToken(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;
}
