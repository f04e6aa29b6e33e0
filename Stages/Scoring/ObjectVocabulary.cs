using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distill.Stages.Scoring;

/// <summary>CHAIR's object vocabulary for real captions: each object with the words that name it
/// (<c>{"person": ["person", "people", "man", "woman"], "dining table": ["dining table", "table"]}</c>, as CHAIR's
/// COCO synonym list). <see cref="Judge"/> finds the objects a caption mentions (each once, longest name first, whole
/// words, case-insensitive) and judges them against an image's ground-truth objects, into the same
/// <see cref="CaptionJudgement"/> the Shapes captions give, so <see cref="ChairMetrics.Compute"/> scores both.</summary>
public sealed partial class ObjectVocabulary
{
    private readonly List<(string[] Words, string Object)> _names; // longest first

    public ObjectVocabulary(IReadOnlyDictionary<string, IReadOnlyList<string>> synonyms)
    {
        _names = synonyms
            .SelectMany(kv => kv.Value.Append(kv.Key).Select(name => (Words: Words(name), Object: kv.Key)))
            .Where(n => n.Words.Length > 0)
            .DistinctBy(n => string.Join(' ', n.Words))
            .OrderByDescending(n => n.Words.Length)
            .ToList();
        Objects = synonyms.Keys.ToHashSet(StringComparer.Ordinal);
    }

    public IReadOnlySet<string> Objects { get; }

    /// <summary>Reads the vocabulary file, naming it and the entry in every error.</summary>
    public static ObjectVocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CHAIR object vocabulary not found: {path}", path);
        try
        {
            var parsed = JsonSerializer.Deserialize<Dictionary<string, string[]>>(File.ReadAllBytes(path))
                ?? throw new InvalidDataException($"{path}: JSON null, expected {{\"object\": [\"synonym\", ...]}}");
            if (parsed.Count == 0) throw new InvalidDataException($"{path}: no objects");
            return new ObjectVocabulary(parsed.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: expected {{\"object\": [\"synonym\", ...]}} ({e.Message})", e);
        }
    }

    /// <summary>The distinct objects <paramref name="caption"/> names, in the order they first appear.</summary>
    public IReadOnlyList<string> Mentions(string caption)
    {
        var words = Words(caption);
        var found = new List<string>();
        for (int i = 0; i < words.Length;)
        {
            var match = _names.FirstOrDefault(n => n.Words.Length <= words.Length - i && n.Words.AsSpan().SequenceEqual(words.AsSpan(i, n.Words.Length)));
            if (match.Words is null) { i++; continue; }
            if (!found.Contains(match.Object)) found.Add(match.Object);
            i += match.Words.Length;
        }
        return found;
    }

    /// <summary>A caption against its image's ground-truth objects: every mention not among them is hallucinated;
    /// recall counts the ground-truth objects (of this vocabulary) the caption names.</summary>
    public CaptionJudgement Judge(string caption, IReadOnlyCollection<string> truth)
    {
        var unknown = truth.Where(o => !Objects.Contains(o)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"ground-truth objects not in the vocabulary: {string.Join(", ", unknown)}", nameof(truth));
        var mentions = Mentions(caption).Select(o => new ObjectMention(null, o)).ToList();
        var hallucinated = mentions.Where(m => !truth.Contains(m.Shape)).ToList();
        var present = truth.Distinct().ToList();
        return new CaptionJudgement(mentions, hallucinated, present.Count, present.Count(o => mentions.Any(m => m.Shape == o)));
    }

    [GeneratedRegex(@"[a-z0-9]+")]
    private static partial Regex Word();

    private static string[] Words(string text) => Word().Matches(text.ToLowerInvariant()).Select(m => m.Value).ToArray();
}
