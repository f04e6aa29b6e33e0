using System.Text.Json;

namespace Distill.Stages.Data.Llava;

/// <summary>One image of a CHAIR caption set: its id, its image inside the image folder, and the objects truly in it
/// (names of the CHAIR object vocabulary).</summary>
public sealed record CaptionTruth(string Id, string Image, IReadOnlyList<string> Objects)
{
    /// <summary>Reads a CHAIR file: one JSON object per line, <c>{"id", "image", "objects": ["dog", ...]}</c>, images
    /// relative to <paramref name="imageFolder"/>. Bad lines go to the budget with their line number and reason.</summary>
    public static IEnumerable<CaptionTruth> Read(string file, string imageFolder, BadSampleBudget budget)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path)) throw new FileNotFoundException($"CHAIR caption file not found: {path}", path);
        return JsonLines.Read(path, budget, e => Parse(e, imageFolder));
    }

    private static (CaptionTruth?, string?) Parse(JsonElement e, string imageFolder)
    {
        if (e.ValueKind != JsonValueKind.Object) return (null, "expected a JSON object");
        var id = JsonLines.Text(e, "id");
        var image = e.TryGetProperty("image", out var im) && im.ValueKind == JsonValueKind.String ? im.GetString() : null;
        if (id is null || image is null) return (null, "needs id and image");
        if (!e.TryGetProperty("objects", out var o) || o.ValueKind != JsonValueKind.Array || o.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            return (null, "needs 'objects', a list of object names");
        var (resolved, error) = ImagePaths.Resolve(imageFolder, image);
        if (error is not null) return (null, error);
        return (new CaptionTruth(id, resolved!, o.EnumerateArray().Select(x => x.GetString()!).ToList()), null);
    }
}
