namespace Distill.Stages.Preference;

/// <summary>A judge's decision for one prompt: chosen beats rejected because of <paramref name="Judge"/>.</summary>
public sealed record Verdict(int[] Chosen, int[] Rejected, string Judge);
