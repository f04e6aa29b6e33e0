using System.Collections.Concurrent;
using System.Text;

namespace Distill.Stages.Text;

/// <summary>The BPE <c>model</c> of a tokenizer.json: a word's characters (or, with byte_fallback, the
/// <c>&lt;0xXX&gt;</c> tokens of a character outside the vocabulary) merged pair by pair, always the pair of lowest
/// merge rank first and of two equal ranks the leftmost, as Hugging Face's BPE does. ignore_merges takes a word that
/// is in the vocabulary as it is (Llama 3); unk_token (fuse_unk: one for a run) for what is left.</summary>
public sealed class BpeModel
{
    private const int CacheLimit = 100_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[] _byteIds; // <0xXX> token ids, -1 where absent
    private readonly int? _unkId;
    private readonly bool _byteFallback, _fuseUnk, _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private BpeModel(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, int? unkId,
        bool byteFallback, bool fuseUnk, bool ignoreMerges)
    {
        _vocab = vocab;
        _merges = merges;
        _unkId = unkId;
        _byteFallback = byteFallback;
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
    }

    /// <summary>Token string → id.</summary>
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public static BpeModel Read(TokenizerJsonNode model)
    {
        var typeNode = model.Optional("type");
        string type = typeNode.IsNull ? "BPE" : typeNode.String();
        if (type != "BPE")
            throw typeNode.Error($"is '{type}': Distill reads BPE models only (byte-level as Qwen2/Qwen3, Llama 3, GPT-2; "
                + "SentencePiece-style with byte fallback as Llama 2, Mistral, Gemma), not WordPiece, WordLevel or Unigram");
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            var affix = model.Optional(key);
            if (!affix.IsNull && affix.String().Length > 0) throw affix.Error("is not supported (only empty or null)");
        }
        var dropout = model.Optional("dropout");
        if (!dropout.IsNull && dropout.Value.GetDouble() != 0) throw dropout.Error("is not supported (only null)");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in model.Required("vocab").Members()) vocab[token] = id.Int();

        var merges = new Dictionary<long, (int, int)>();
        int rank = 0;
        foreach (var merge in model.Required("merges").Items())
        {
            var (left, right) = MergePair(merge);
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b))
                throw merge.Error($"merges '{left}' and '{right}', not both in model.vocab");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw merge.Error($"makes '{left + right}', which is not in model.vocab");
            merges.TryAdd(Key(a, b), (rank++, merged));
        }

        int? unkId = null;
        var unk = model.Optional("unk_token");
        if (!unk.IsNull)
        {
            if (!vocab.TryGetValue(unk.String(), out int u)) throw unk.Error($"is '{unk.String()}', not in model.vocab");
            unkId = u;
        }
        return new BpeModel(vocab, merges, unkId, model.Optional("byte_fallback").Bool(false),
            model.Optional("fuse_unk").Bool(false), model.Optional("ignore_merges").Bool(false));
    }

    /// <summary>A merge as "a b" (older files) or ["a", "b"].</summary>
    private static (string, string) MergePair(TokenizerJsonNode merge)
    {
        if (merge.Value.ValueKind == System.Text.Json.JsonValueKind.String)
        {
            string text = merge.String();
            int space = text.IndexOf(' ');
            if (space <= 0 || space != text.LastIndexOf(' ') || space == text.Length - 1)
                throw merge.Error($"is '{text}', not two tokens separated by one space");
            return (text[..space], text[(space + 1)..]);
        }
        var parts = merge.Items().ToArray();
        if (parts.Length != 2) throw merge.Error("must be a pair of tokens");
        return (parts[0].String(), parts[1].String());
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>The ids of one word (a pre-tokenized piece).</summary>
    public void Tokenize(string word, List<int> ids)
    {
        if (word.Length == 0) return;
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole)) { ids.Add(whole); return; }
        if (_cache.TryGetValue(word, out var cached)) { ids.AddRange(cached); return; }
        var result = Merge(Symbols(word));
        if (_cache.Count < CacheLimit) _cache.TryAdd(word, result);
        ids.AddRange(result);
    }

    /// <summary>The word's characters as ids: the vocabulary's, else byte tokens, else unk.</summary>
    private List<int> Symbols(string word)
    {
        var symbols = new List<int>(word.Length);
        bool lastUnk = false;
        foreach (var rune in word.EnumerateRunes())
        {
            string c = rune.ToString();
            if (_vocab.TryGetValue(c, out int id)) { symbols.Add(id); lastUnk = false; continue; }
            if (_byteFallback && TryBytes(c, symbols)) { lastUnk = false; continue; }
            if (_unkId is null)
                throw new InvalidDataException($"the character U+{rune.Value:X4} is not in the vocabulary and the tokenizer has no unk_token");
            if (!(_fuseUnk && lastUnk)) symbols.Add(_unkId.Value);
            lastUnk = true;
        }
        return symbols;
    }

    private bool TryBytes(string c, List<int> symbols)
    {
        var bytes = Encoding.UTF8.GetBytes(c);
        foreach (byte b in bytes)
            if (_byteIds[b] < 0) return false;
        foreach (byte b in bytes) symbols.Add(_byteIds[b]);
        return true;
    }

    /// <summary>Merges lowest rank first, leftmost first among equal ranks (a heap of candidate pairs over a linked
    /// list of symbols; a popped pair that no longer exists is skipped).</summary>
    private int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return [.. symbols];
        var id = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }

        var heap = new PriorityQueue<(int Left, int Right, int Rank, int Merged), (int Rank, int Left)>();
        void Offer(int left)
        {
            if (left < 0 || next[left] < 0) return;
            int right = next[left];
            if (_merges.TryGetValue(Key(id[left], id[right]), out var m)) heap.Enqueue((left, right, m.Rank, m.Id), (m.Rank, left));
        }
        for (int i = 0; i + 1 < n; i++) Offer(i);

        while (heap.TryDequeue(out var pair, out _))
        {
            var (left, right, rank, merged) = pair;
            if (!alive[left] || !alive[right] || next[left] != right) continue;
            if (!_merges.TryGetValue(Key(id[left], id[right]), out var now) || now.Rank != rank || now.Id != merged) continue;
            id[left] = merged;
            alive[right] = false;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            Offer(prev[left]);
            Offer(left);
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];
    }
}
