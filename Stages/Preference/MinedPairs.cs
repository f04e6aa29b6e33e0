using Distill.Stages.Arrow;

namespace Distill.Stages.Preference;

/// <summary>What mining one split gave: the candidate rows (one per prompt that yielded a pair or a group for the
/// teacher to judge), the prompts sampled, and those skipped because their responses offered nothing to contrast
/// (all correct, all wrong, all the same, or no hallucination where only hallucination pairs are mined), and the
/// sampled responses left out because they hold the image token.</summary>
public sealed record MinedPairs(IReadOnlyList<CandidateRow> Rows, int Prompts, int Skipped, int ResponsesWithImageToken)
{
    public static MinedPairs None { get; } = new([], 0, 0, 0);

    /// <summary>Rows for the teacher to judge (no verdict yet).</summary>
    public int TeacherJudged => Rows.Count(r => !r.IsJudged);
}
