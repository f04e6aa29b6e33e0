namespace Distill.Stages.Arrow;

/// <summary>One row of <c>candidates/v1</c>: a prompt (image tokens included) and responses to it (each ending with
/// eos). With a <paramref name="Judge"/> the pair is already judged and <paramref name="Responses"/> is
/// [chosen, rejected]; without one (null) the teacher judges: it ranks the (at least two, distinct) responses by its
/// length-normalised log-likelihood and takes the best against the worst.</summary>
public sealed record CandidateRow(string SampleId, byte[] Image, int[] PromptIds, int[][] Responses, string Source, string? Judge)
{
    public bool IsJudged => Judge is not null;

    /// <summary>An already judged pair: chosen beats rejected because of <paramref name="judge"/>.</summary>
    public static CandidateRow Judged(string sampleId, byte[] image, int[] promptIds, int[] chosen, int[] rejected, string source, string judge) =>
        new(sampleId, image, promptIds, [chosen, rejected], source, judge);
}

/// <summary>Metadata of a candidates batch: the tokenizer the ids belong to.</summary>
public sealed record CandidateBatchMeta(string TokenizerHash);
