namespace Distill.Stages.Arrow;

/// <summary>One row of <c>samples/v1</c>.</summary>
public sealed record SampleRow(string SampleId, byte[] Image, int[] InputIds, bool[] LabelsMask, string Task, string? Answer);
