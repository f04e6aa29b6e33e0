using Distill.Stages.Images;
using Distill.Stages.Text;

namespace Distill.Stages.Data.Llava;

/// <summary>Turns <see cref="ConversationSample"/>s into <see cref="EncodedConversation"/>s: the chat template over the
/// tokenizer, and the image through the loader (decode, pad, processor). A sample whose image cannot be decoded, that
/// the template cannot label exactly, or that is too long under <see cref="LongSamplePolicy.Skip"/> (or keeps no label
/// after truncation) is reported to the budget with its id and the reason and skipped. Thread-safe: the loaders of a
/// stage may share one.</summary>
public sealed class ConversationEncoder
{
    private readonly ITokenizer _tokenizer;
    private readonly ConversationTemplate _template;
    private readonly ImageLoader? _images;
    private int _truncated;

    /// <param name="images">null: the run has no vision tower; a sample with an image is then refused.</param>
    public ConversationEncoder(ITokenizer tokenizer, ConversationTemplate template, ImageLoader? images, int maxLength,
        LongSamplePolicy longSamples = LongSamplePolicy.Truncate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        _tokenizer = tokenizer;
        _template = template;
        _images = images;
        MaxLength = maxLength;
        LongSamples = longSamples;
        if (tokenizer.TokenToId(ConversationTemplate.ImageToken) is null && images is not null)
            throw new ArgumentException(
                $"the tokenizer has no {ConversationTemplate.ImageToken} token; a LLaVA tokenizer adds it as an added token (id {tokenizer.VocabSize} or so)", nameof(tokenizer));
    }

    public int MaxLength { get; }
    public LongSamplePolicy LongSamples { get; }

    /// <summary>Samples cut to <see cref="MaxLength"/> so far.</summary>
    public int Truncated => Volatile.Read(ref _truncated);

    /// <summary>The encoded sample, or null after reporting it to <paramref name="budget"/>.</summary>
    public EncodedConversation? Encode(ConversationSample sample, BadSampleBudget budget)
    {
        var reason = TryEncode(sample, out var encoded);
        if (reason is null)
        {
            lock (budget) budget.Accept();
            return encoded;
        }
        lock (budget) budget.Reject(new BadSample(sample.Source, $"'{sample.Id}'", reason));
        return null;
    }

    private string? TryEncode(ConversationSample sample, out EncodedConversation? encoded)
    {
        encoded = null;
        RgbImage? pixels = null;
        if (sample.Image is { } image)
        {
            if (_images is null) return "has an image, but the run has no image processor";
            try { pixels = _images.LoadResized(image); }
            catch (ImageDecodeException e) { return e.Message; }
        }
        EncodedSample tokens;
        try
        {
            tokens = _template.Encode(_tokenizer, sample.Turns.Select(t => (t.IsHuman, t.Value)).ToList());
        }
        catch (InvalidOperationException e) { return e.Message; }
        var ids = tokens.InputIds;
        var labels = tokens.LabelsMask;
        var truncated = ids.Length > MaxLength;
        if (truncated)
        {
            if (LongSamples == LongSamplePolicy.Skip)
                return $"{ids.Length} tokens, more than the maximum length {MaxLength} (skipped: distill.data.long-samples = skip)";
            ids = ids[..MaxLength];
            labels = labels[..MaxLength];
            if (!labels.Contains(true)) return $"{tokens.InputIds.Length} tokens; cut to the maximum length {MaxLength}, no answer token is left";
            if (sample.HasImage && !ids.Contains(_tokenizer.TokenToId(ConversationTemplate.ImageToken)!.Value))
                return $"{tokens.InputIds.Length} tokens; cut to the maximum length {MaxLength}, the image token is cut off";
            Interlocked.Increment(ref _truncated);
        }
        encoded = new EncodedConversation(sample.Id, ids, labels, pixels, truncated);
        return null;
    }
}
