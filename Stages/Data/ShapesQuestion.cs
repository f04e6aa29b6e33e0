namespace Distill.Stages.Data;

/// <summary>A question about a scene, its question family and its short lowercase answer.</summary>
public sealed record ShapesQuestion(string Family, string Question, string Answer);
