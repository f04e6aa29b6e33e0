using Distill.Stages.Images;

namespace Distill.Stages.Data.Llava;

/// <summary>A conversation ready for a model: its ids (one image token where the sample's <c>&lt;image&gt;</c> was; the
/// model expands it to the tower's patch count), its labels (true on the assistants' tokens), and its image as the
/// processor resized and cropped it, before rescale and normalisation (null for a text-only sample; the processor's
/// <see cref="IImageProcessor.Normalize"/> gives the pixel values). <see cref="Truncated"/> says the sequence was cut
/// to the maximum length.</summary>
public sealed record EncodedConversation(string Id, int[] InputIds, bool[] Labels, RgbImage? Image, bool Truncated);

/// <summary>What happens to a conversation longer than the maximum length: cut after its first tokens (keeping the
/// labels that remain; a sample left with none is skipped as bad) or skipped whole. Either way it is counted.</summary>
public enum LongSamplePolicy
{
    Truncate,
    Skip,
}
