namespace Distill.Stages.Evaluation;

/// <summary>One generated answer next to its reference.</summary>
public sealed record Prediction(string SampleId, string Task, string Question, string Reference, string Generated, bool Correct);
