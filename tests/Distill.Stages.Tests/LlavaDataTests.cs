using System.Text.Json;
using Distill.Models;
using Distill.Stages.Data.Llava;
using Distill.Stages.Images;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>A LLaVA dataset read through a teacher folder (qwen3's tokenizer with &lt;image&gt;, a CLIP processor of
/// 56 pixels): rows, prompts, pixels, splits, and what bad samples do under the budget and under strict.</summary>
public class LlavaDataTests
{
    private static readonly string Processors = Path.Combine(TokenizerFixtures.RepositoryRoot(), "tests", "fixtures", "hf-generated", "processors");
    private static string Photo(string name) => Path.Combine(Processors, "images", name);

    private const int ImageTokens = 4;

    /// <summary>A teacher folder: tokenizer files and preprocessor_config.json (no weights: the data needs none).</summary>
    private static string ModelDir(TempDir dir)
    {
        var model = dir.File("teacher");
        if (Directory.Exists(model)) return model;
        ImageTokenTokenizer.Create(TokenizerFixtures.TokenizerDir("qwen3"), model);
        File.Copy(Path.Combine(Processors, "configs", "clip-small", "preprocessor_config.json"), Path.Combine(model, "preprocessor_config.json"));
        return model;
    }

    private static string Line(string id, string? image, params string[] turns) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["id"] = id, ["image"] = image,
        ["conversations"] = turns.Select((t, i) => new Dictionary<string, string> { ["from"] = i % 2 == 0 ? "human" : "gpt", ["value"] = t }).ToList(),
    });

    private static LlavaDataOptions Options(TempDir dir, string train, double maxBad = 0.5, bool strict = false, string? heldOut = null) =>
        new(train, Path.Combine(Processors, "images"), heldOut, 0.25, null, null, null, null, ModelDir(dir), "chatml", "pad",
            MaxLength: 128, LongSamplePolicy.Truncate, maxBad, strict, ImageTokens, Seed: 1);

    [Fact]
    public void Rows_carry_the_expanded_image_tokens_the_labelled_answers_and_the_processors_exact_pixels()
    {
        using var dir = new TempDir();
        var train = dir.File("train.jsonl");
        File.WriteAllLines(train, [Line("a", "rgb-640x480.jpg", "<image>\nWhat is it?", "A street.", "And the sky?", "Blue."), Line("text", null, "Hi", "Hello.")]);
        var held = dir.File("held.jsonl");
        File.WriteAllLines(held, [Line("h", "gray-150x100.jpg", "Describe it.\n<image>", "Grey.")]);
        var data = LlavaData.Prepare(Options(dir, train, heldOut: held));

        var tokenizer = (HfTokenizer)data.Tokenizer;
        int image = tokenizer.TokenToId("<image>")!.Value;
        Assert.Equal(image, data.ImageTokenId);
        var row = Assert.Single(data.Rows("train"));
        Assert.Equal(ImageTokens, row.InputIds.Count(id => id == image));
        Assert.All(Enumerable.Range(0, row.InputIds.Length).Where(i => row.InputIds[i] == image), i => Assert.False(row.LabelsMask[i]));
        Assert.Equal("A street.<|im_end|>Blue.<|im_end|>", tokenizer.Decode(row.InputIds.Where((_, i) => row.LabelsMask[i])));
        // The prompt for generation is the encoded conversation up to its first answer.
        var prompt = data.EncodePrompt("What is it?");
        Assert.Equal(prompt, row.InputIds[..prompt.Length]);
        Assert.False(row.LabelsMask[prompt.Length - 1]);
        Assert.True(row.LabelsMask[prompt.Length]);
        // Packed bytes through the data's ImageFormat are the processor's pixel values, bit for bit.
        var loader = new ImageLoader(ImageProcessors.Load(Path.Combine(Processors, "configs", "clip-small")), ImageAspectMode.Pad);
        Assert.Equal(56, data.ImageFormat.Size);
        using var pixels = data.ImageFormat.ToPixels([row.Image]);
        Assert.Equal(loader.Load(Photo("rgb-640x480.jpg")).Values, pixels.data<float>().ToArray());
        // Stops: the template's end of turn first, then the tokenizer's eos.
        Assert.Equal(tokenizer.TokenToId("<|im_end|>"), data.EosId);
        // Splits and counts: the held-out file is val; the test split defaults to it; the text-only sample is left out.
        Assert.Equal(["h"], data.Samples("val").Select(s => s.Id));
        Assert.Equal(["h"], data.Samples("test").Select(s => s.Id));
        Assert.Equal("vqa", data.Samples("test")[0].Task);
        Assert.Equal((3, 0, 1), (data.Quality.Read, data.Quality.Bad.Count, data.Quality.TextOnly));
        // A model directory gets the teacher's processing files.
        data.SaveProcessingFiles(dir.File("out"));
        Assert.Equal(tokenizer.Hash, HfTokenizer.Load(dir.File("out")).Hash);
        Assert.True(File.Exists(Path.Combine(dir.File("out"), "preprocessor_config.json")));
    }

    [Fact]
    public void Bad_samples_past_the_allowed_fraction_fail_naming_the_count_and_strict_stops_at_the_first()
    {
        using var dir = new TempDir();
        var train = dir.File("train.jsonl");
        var images = dir.File("images");
        Directory.CreateDirectory(images);
        foreach (var name in new[] { "rgb-640x480.jpg", "gray-150x100.jpg" }) File.Copy(Photo(name), Path.Combine(images, name));
        File.WriteAllText(Path.Combine(images, "broken.jpg"), "not a jpeg");
        File.WriteAllLines(train, [Line("a", "rgb-640x480.jpg", "<image>\nQ?", "A."), Line("b", "missing.jpg", "<image>\nQ?", "A."),
            Line("c", "gray-150x100.jpg", "<image>\nQ?", "A."), Line("d", "broken.jpg", "<image>\nQ?", "A.")]);
        var held = dir.File("held.jsonl");
        File.WriteAllLines(held, [Line("h", "gray-150x100.jpg", "<image>\nQ?", "A.")]);

        var tolerant = LlavaData.Prepare(Options(dir, train, maxBad: 0.5) with { HeldOut = held, ImageFolder = images });
        Assert.Contains("not found", tolerant.Quality.Bad.Single(b => b.Sample == "'b'").Reason);
        Assert.Contains("not an image", tolerant.Quality.Bad.Single(b => b.Sample == "'d'").Reason);
        Assert.Equal(2, tolerant.Quality.Bad.Count);
        Assert.Equal(["a", "c"], tolerant.Samples("train").Select(s => s.Id).Order());

        var e = Assert.Throws<BadDataException>(() => LlavaData.Prepare(Options(dir, train, maxBad: 0.25) with { HeldOut = held, ImageFolder = images }));
        Assert.Contains("2 of 5 samples are bad (40.0%)", e.Message);
        Assert.Contains("distill.data.max-bad-fraction = 0.25", e.Message);

        var strict = Assert.Throws<BadDataException>(() => LlavaData.Prepare(Options(dir, train, strict: true) with { HeldOut = held, ImageFolder = images }));
        Assert.Contains("sample 'b'", strict.Message);
        Assert.Contains("distill.data.strict = true", strict.Message);
    }

    [Fact]
    public void A_dataset_that_leaves_nothing_to_evaluate_on_is_refused_naming_the_keys()
    {
        using var dir = new TempDir();
        var train = dir.File("train.jsonl");
        File.WriteAllLines(train, [Line("a", "rgb-640x480.jpg", "<image>\nQ?", "A.")]);
        var e = Assert.Throws<InvalidDataException>(() => LlavaData.Prepare(Options(dir, train) with { HeldOutRatio = 0 }));
        Assert.Contains("distill.data.test is not set and the held-out split (distill.data.held-out-ratio = 0 of 1 samples) is empty", e.Message);
    }
}
