namespace Distill.Stages.Data;

/// <summary>A question about a scene, its question family and its short lowercase answer. <paramref name="Probe"/>
/// is the POPE setting of an existence question (random, popular, adversarial) and null for other families.</summary>
public sealed record ShapesQuestion(string Family, string Question, string Answer, string? Probe = null);
