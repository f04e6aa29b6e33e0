namespace Distill.Stages.Preference;

/// <summary>One response sampled for a prompt: its ids as a training response (the generated tokens plus the closing
/// eos, as <see cref="Text.ChatTemplate"/> ends an answer) and the decoded text.</summary>
public sealed record SampledResponse(int[] Ids, string Text);
