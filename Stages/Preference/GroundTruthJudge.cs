using Distill.Stages.Scoring;

namespace Distill.Stages.Preference;

/// <summary>Judges sampled answers by exact match with the reference answer (after the data's normalisation, as the
/// evaluation does): chosen = the first correct response, rejected = the most frequent wrong one (the
/// student's likeliest mistake; the first of those on a tie). No verdict when every response is correct or every
/// one is wrong: nothing to contrast.</summary>
public static class GroundTruthJudge
{
    public static Verdict? Judge(AnswerMatch answers, IReadOnlyList<SampledResponse> responses, string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var correct = responses.Where(r => answers.IsExact(r.Text, reference)).ToList();
        var wrong = responses.Where(r => !answers.IsExact(r.Text, reference)).ToList();
        if (correct.Count == 0 || wrong.Count == 0) return null;
        var rejected = wrong
            .Select((r, i) => (Response: r, First: i, Count: wrong.Count(w => w.Ids.AsSpan().SequenceEqual(r.Ids))))
            .OrderByDescending(x => x.Count).ThenBy(x => x.First)
            .First().Response;
        return new Verdict(correct[0].Ids, rejected.Ids,
            $"ground truth '{answers.Normalise(reference)}': rejected answered '{rejected.Text}'");
    }
}
