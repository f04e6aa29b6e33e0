namespace Distill.Stages.Arrow;

/// <summary>One row of <c>teacher/v2</c>: the sample (its image from the data path) plus, for each predicting position
/// (<c>PredictingPositions</c>), the teacher's top-K ids and log-probs (descending) and the log of the tail
/// mass. Arrays are flattened: TopkIds.Length == TopkLogprobs.Length == Positions*K.</summary>
public sealed record TeacherRow(SampleRow Sample, int[] TopkIds, float[] TopkLogprobs, float[] TailLogprob)
{
    public int Positions => TailLogprob.Length;
}

/// <summary>Metadata of a teacher batch.</summary>
/// <param name="Scope"><c>response</c> or <c>all</c>.</param>
public sealed record TeacherBatchMeta(string TeacherFingerprint, int TopK, int VocabSize, string TokenizerHash, string Scope);
