namespace Distill.Stages.Flow;

/// <summary>What one consumed shard did: samples seen and the mean loss (NaN when nothing was trained).</summary>
public sealed record StepReport(int ShardId, int Samples, double Loss);
