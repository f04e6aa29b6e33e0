namespace Distill.Models.Config;

/// <summary>HF <c>generation_config.json</c> (falling back to config.json's token ids): the tokens that start, end and
/// pad a sequence, and how many new tokens a generation may add.</summary>
public sealed record GenerationConfig(int? BosTokenId, IReadOnlyList<int> EosTokenIds, int? PadTokenId, int? MaxNewTokens = null)
{
    public static GenerationConfig None { get; } = new(null, [], null);
}
