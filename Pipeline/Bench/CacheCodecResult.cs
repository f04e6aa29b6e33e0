using System.Globalization;

namespace Distill.Pipeline.Bench;

/// <summary>How the top-K teacher output of a token is stored in a measured part.</summary>
public enum CacheCodecSetting
{
    /// <summary>Today's <c>teacher/v1</c> columns: list&lt;int32&gt; ids, list&lt;float16&gt; log-probs, list&lt;float32&gt; tail; uncompressed.</summary>
    Float16,
    /// <summary>The same columns, zstd IPC compression.</summary>
    Float16Zstd,
    /// <summary><see cref="Distill.Stages.Arrow.TopKCodec"/> records in a <c>topk-compact/1</c> part, uncompressed.</summary>
    Compact,
    /// <summary>The same records, zstd IPC compression: the setting of the headline rows.</summary>
    CompactZstd,
}

public static class CacheCodecSettings
{
    public static readonly IReadOnlyList<CacheCodecSetting> All =
        [CacheCodecSetting.Float16, CacheCodecSetting.Float16Zstd, CacheCodecSetting.Compact, CacheCodecSetting.CompactZstd];

    public static string Name(this CacheCodecSetting setting) => setting switch
    {
        CacheCodecSetting.Float16 => "float16",
        CacheCodecSetting.Float16Zstd => "float16-zstd",
        CacheCodecSetting.Compact => "compact",
        CacheCodecSetting.CompactZstd => "compact-zstd",
        _ => throw new ArgumentOutOfRangeException(nameof(setting), setting, null),
    };

    /// <summary>Whether the setting decodes to the codec's quantised log-probs (else to float16 ones).</summary>
    public static bool IsCompact(this CacheCodecSetting setting) => setting is CacheCodecSetting.Compact or CacheCodecSetting.CompactZstd;
}

/// <summary>One K and setting of <see cref="CacheCodecBench"/>.</summary>
/// <param name="PartBytes">the Arrow IPC stream holding every measured token's top-K output (schema, metadata and
/// framing included; nothing else is in it).</param>
/// <param name="RecordBytes">the payload per token before compression: 6K + 4 for the float16 lists, the codec's
/// <see cref="Distill.Stages.Arrow.TopKCodec.BytesPerToken"/> for the compact records.</param>
/// <param name="GradCosine">cosine between the sparse-KL gradient from the decoded cache and the dense-KL gradient,
/// both w.r.t. the student logits, over the whole flattened [N, V] gradient.</param>
/// <param name="TokenMinCosine">the smallest per-token cosine (each token's [V] gradients).</param>
/// <param name="TokenMeanCosine">the mean per-token cosine.</param>
/// <param name="TailMass">the teacher's mean probability outside the top K.</param>
public sealed record CacheCodecRow(int VocabSize, int TopK, CacheCodecSetting Setting, int Tokens, long PartBytes, int RecordBytes,
    double GradCosine, double TokenMinCosine, double TokenMeanCosine, double TailMass)
{
    public double BytesPerToken => (double)PartBytes / Tokens;

    /// <summary>The CSV subject: <c>vocab151646-k64</c> for the headline setting (compact + zstd), with the setting's
    /// name appended for the others (<c>vocab151646-k64-float16</c>).</summary>
    public string Subject => SubjectOf(VocabSize, TopK, Setting);

    public static string SubjectOf(int vocab, int k, CacheCodecSetting setting) =>
        string.Create(CultureInfo.InvariantCulture, $"vocab{vocab}-k{k}") + (setting == CacheCodecSetting.CompactZstd ? "" : "-" + setting.Name());
}

/// <summary>Everything <see cref="CacheCodecBench"/> measured, and the distribution it measured on.</summary>
/// <param name="TeacherEntropy">mean entropy of the teacher distributions, nats.</param>
/// <param name="TeacherTop1">mean probability of the teacher's most likely token.</param>
/// <param name="StudentKl">mean KL(p_teacher || q_student) over the full vocabulary, nats.</param>
/// <param name="TopKIdBits">plug-in entropy (bits) of the ids found in the top K, pooled over tokens and the largest K:
/// log2(151,646) = 17.2 would be no skew at all. Biased low when tokens x K is not much larger than the vocabulary.</param>
public sealed record CacheCodecResult(CacheCodecBenchOptions Options, double TeacherEntropy, double TeacherTop1, double StudentKl,
    double TopKIdBits, IReadOnlyList<CacheCodecRow> Rows)
{
    /// <summary>The headline rows: compact + zstd.</summary>
    public CacheCodecRow Row(int k, CacheCodecSetting setting = CacheCodecSetting.CompactZstd) =>
        Rows.Single(r => r.TopK == k && r.Setting == setting);
}
