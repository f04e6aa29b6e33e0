using System.Text.Json;

namespace Distill.Stages.Data.Llava;

/// <summary>One dataset of a mixture: its file, its image folder (null: the file's folder) and how much of it to take:
/// <see cref="Samples"/> exactly that many (fewer than it has: a seeded choice; more: it repeats), or
/// <see cref="Weight"/> times its size (0.5 = half of it, 2 = twice over); neither = all of it once.</summary>
public sealed record MixtureSource(string File, string? ImageFolder, double? Weight, int? Samples);

/// <summary>A mixture manifest: several LLaVA dataset files and image folders mixed into one training set
/// (<c>{"sources": [{"file", "image_folder"?, "weight"? | "samples"?}, ...]}</c>, paths relative to the manifest).
/// <see cref="Mix"/> reads every source (bad samples go to the budget), takes each source's share by a seeded draw,
/// and interleaves the result in a seeded order: the same manifest and seed give the same samples in the same order.</summary>
public sealed record DatasetMixture(string Manifest, IReadOnlyList<MixtureSource> Sources)
{
    public static DatasetMixture Load(string manifest)
    {
        var path = Path.GetFullPath(manifest);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"mixture manifest not found: {path}", path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(path)); }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: malformed JSON in the mixture manifest", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("sources", out var list)
                || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
                throw new InvalidDataException($"{path}: expected {{\"sources\": [{{\"file\": ..., \"weight\" or \"samples\": ...}}, ...]}}");
            var folder = Path.GetDirectoryName(path)!;
            var sources = new List<MixtureSource>();
            foreach (var s in list.EnumerateArray())
            {
                var where = $"{path}: sources[{sources.Count}]";
                if (s.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where} is not an object");
                foreach (var key in s.EnumerateObject().Select(p => p.Name))
                    if (key is not ("file" or "image_folder" or "weight" or "samples"))
                        throw new InvalidDataException($"{where}: unknown key '{key}'; allowed: file, image_folder, weight, samples");
                var file = s.TryGetProperty("file", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : throw new InvalidDataException($"{where}: missing 'file'");
                string? images = s.TryGetProperty("image_folder", out var i) && i.ValueKind == JsonValueKind.String ? Path.GetFullPath(Path.Combine(folder, i.GetString()!)) : null;
                double? weight = s.TryGetProperty("weight", out var w) ? (w.TryGetDouble(out var wv) && wv >= 0 ? wv : throw new InvalidDataException($"{where}: 'weight' must be a number >= 0, found {w}")) : null;
                int? samples = s.TryGetProperty("samples", out var n) ? (n.TryGetInt32(out var nv) && nv >= 0 ? nv : throw new InvalidDataException($"{where}: 'samples' must be a whole number >= 0, found {n}")) : null;
                if (weight is not null && samples is not null) throw new InvalidDataException($"{where}: give 'weight' or 'samples', not both");
                sources.Add(new MixtureSource(Path.GetFullPath(Path.Combine(folder, file)), images, weight, samples));
            }
            return new DatasetMixture(path, sources);
        }
    }

    /// <summary>How many samples a source of <paramref name="available"/> good samples gives.</summary>
    public static int Take(MixtureSource source, int available) =>
        source.Samples ?? (source.Weight is { } w ? (int)Math.Round(w * available, MidpointRounding.AwayFromZero) : available);

    /// <summary>The mixed samples (see the type's summary).</summary>
    public IReadOnlyList<ConversationSample> Mix(int seed, BadSampleBudget budget)
    {
        var random = new Random(seed);
        var mixed = new List<ConversationSample>();
        foreach (var source in Sources)
        {
            var all = LlavaConversationReader.Read(source.File, source.ImageFolder, budget).ToList();
            var take = Take(source, all.Count);
            if (take > 0 && all.Count == 0) throw new InvalidDataException($"{Manifest}: {source.File} has no usable sample, but {take} are asked of it");
            var order = Enumerable.Range(0, all.Count).ToArray();
            for (int done = 0; done < take; done += all.Count)
            {
                random.Shuffle(order);
                mixed.AddRange(order.Take(Math.Min(all.Count, take - done)).Select(i => all[i]));
            }
        }
        var interleaved = mixed.ToArray();
        random.Shuffle(interleaved);
        return interleaved;
    }
}
