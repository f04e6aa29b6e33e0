namespace Distill.Stages.Arrow;

/// <summary>How a <c>teacher/v2</c> batch stores the top-K log-probs (<see cref="TopKCodec"/>) and compresses its
/// IPC body: <c>distill.teacher.exact-logprobs</c>, <c>distill.teacher.logprob-step-bits</c>,
/// <c>distill.teacher.compression</c>.</summary>
/// <param name="ExactCount">the first (largest) log-probs of each position kept as float16 (at most K are).</param>
/// <param name="DeltaBits">bits of each quantised step of the others.</param>
public sealed record TeacherEncoding(int ExactCount = TopKCodecOptions.DefaultExactCount, int DeltaBits = TopKCodecOptions.DefaultDeltaBits,
    IpcCompression Compression = IpcCompression.Zstd)
{
    public static readonly TeacherEncoding Default = new();

    /// <summary>The codec of a vocabulary and K (E capped at K, so a small K keeps every log-prob exact).</summary>
    public TopKCodec Codec(int vocabSize, int topK) =>
        new(new TopKCodecOptions(vocabSize, topK, Math.Min(ExactCount, topK), DeltaBits));
}
