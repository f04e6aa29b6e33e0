using Distill.Stages.Data.Llava;
using Distill.Stages.Images;
using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>LLaVA samples to model inputs on real parts: a Qwen tokenizer with LLaVA's added &lt;image&gt; token, the
/// ChatML template, photographs of the processor fixtures through a CLIP processor; bad images, too-long samples and
/// truncation counted.</summary>
public sealed class ConversationEncoderTests
{
    private static readonly string Processors = Path.Combine(TokenizerFixtures.RepositoryRoot(), "tests", "fixtures", "hf-generated", "processors");

    private static HfTokenizer QwenWithImageToken(TempDir dir) =>
        ImageTokenTokenizer.Create(TokenizerFixtures.TokenizerDir("qwen3"), dir.File("tokenizer"));

    private static ConversationSample Sample(string id, string? image, params string[] turns) =>
        new(id, image, turns.Select((t, i) => new ConversationTurn(i % 2 == 0 ? "human" : "gpt", t)).ToList(), "data.json");

    [Fact]
    public void A_photo_sample_becomes_one_image_token_labelled_answers_and_the_processors_pixels()
    {
        using var dir = new TempDir();
        var tokenizer = QwenWithImageToken(dir);
        var loader = new ImageLoader(ImageProcessors.Load(Path.Combine(Processors, "configs", "clip-small")), ImageAspectMode.Pad);
        var encoder = new ConversationEncoder(tokenizer, new ChatMlTemplate(), loader, maxLength: 512);
        var photo = Path.Combine(Processors, "images", "rgb-640x480.jpg");
        var budget = new BadSampleBudget();

        var encoded = encoder.Encode(Sample("p", photo, "<image>\nWhat is in the photo?", "A street."), budget)!;

        Assert.Empty(budget.Bad);
        var imageId = tokenizer.TokenToId("<image>")!.Value;
        Assert.Single(encoded.InputIds, imageId);
        Assert.Equal("A street.<|im_end|>", tokenizer.Decode(encoded.InputIds.Where((_, i) => encoded.Labels[i])));
        Assert.Equal((56, 56), (encoded.Image!.Height, encoded.Image.Width));
        Assert.Equal(loader.Load(photo).Values, loader.Processor.Normalize(encoded.Image).Values);
        Assert.False(encoded.Truncated);
    }

    [Fact]
    public void Bad_images_and_long_samples_are_reported_with_their_id_and_truncation_is_counted()
    {
        using var dir = new TempDir();
        var tokenizer = QwenWithImageToken(dir);
        var loader = new ImageLoader(ImageProcessors.Load(Path.Combine(Processors, "configs", "clip-small")), ImageAspectMode.Keep);
        var text = File.ReadAllBytes(Path.Combine(Processors, "README.md"));
        File.WriteAllBytes(dir.File("not-an-image.jpg"), text);
        var jpeg = File.ReadAllBytes(Path.Combine(Processors, "images", "rgb-640x480.jpg"));
        File.WriteAllBytes(dir.File("truncated.jpg"), jpeg[..(jpeg.Length / 4)]);
        var longAnswer = string.Join(' ', Enumerable.Repeat("word", 200));

        var truncate = new ConversationEncoder(tokenizer, new ChatMlTemplate(), loader, maxLength: 64);
        var skip = new ConversationEncoder(tokenizer, new ChatMlTemplate(), loader, maxLength: 64, LongSamplePolicy.Skip);
        var budget = new BadSampleBudget(maxBadFraction: 1);

        Assert.Null(truncate.Encode(Sample("text", dir.File("not-an-image.jpg"), "Q", "A"), budget));
        Assert.Null(truncate.Encode(Sample("cut", dir.File("truncated.jpg"), "Q", "A"), budget));
        var cut = truncate.Encode(Sample("long", null, "Q", longAnswer), budget)!;
        Assert.Null(truncate.Encode(Sample("prompt-only", null, longAnswer, "A"), budget));
        Assert.Null(skip.Encode(Sample("skipped", null, "Q", longAnswer), budget));

        Assert.Equal(64, cut.InputIds.Length);
        Assert.True(cut.Truncated);
        Assert.Equal(1, truncate.Truncated);
        Assert.Equal(["'text'", "'cut'", "'prompt-only'", "'skipped'"], budget.Bad.Select(b => b.Sample));
        Assert.Contains("not-an-image.jpg", budget.Bad[0].Reason);
        Assert.Contains("truncated", budget.Bad[1].Reason);
        Assert.Contains("no answer token is left", budget.Bad[2].Reason);
        Assert.Contains("more than the maximum length 64 (skipped: distill.data.long-samples = skip)", budget.Bad[3].Reason);
        Assert.Equal(1, budget.Good);
    }

    [Fact]
    public void A_tokenizer_without_an_image_token_is_refused_when_there_are_images()
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("qwen3"));
        var loader = new ImageLoader(ImageProcessors.Load(Path.Combine(Processors, "configs", "clip-small")), ImageAspectMode.Keep);
        var e = Assert.Throws<ArgumentException>(() => new ConversationEncoder(tokenizer, new ChatMlTemplate(), loader, 512));
        Assert.Contains("has no <image> token", e.Message);
        _ = new ConversationEncoder(tokenizer, new ChatMlTemplate(), images: null, 512); // text-only runs need none
    }
}
