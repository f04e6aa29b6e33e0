using Distill.Stages.Scoring;

namespace Distill.Stages.Preference;

/// <summary>Judges caption samples against the scene (object hallucination, as CHAIR counts it): a response naming an
/// object (colour + shape) that is not in the scene is rejected; of several, the one naming the most such objects.
/// Chosen is the first faithful and complete sample (names every object of the scene and nothing else), or else the
/// reference caption. No verdict when no sample hallucinates.</summary>
public static class HallucinationJudge
{
    /// <param name="referenceCaption">the reference caption's response ids (with eos), used when no sample is faithful.</param>
    public static Verdict? Judge(IReadOnlyList<SampledResponse> responses, IReadOnlySet<ObjectName> scene, int[] referenceCaption)
    {
        var judged = responses
            .Select(r => (Response: r, Named: ObjectMentions.Of(r.Text)))
            .Select(x => (x.Response, x.Named, Hallucinated: x.Named.Where(o => !scene.Contains(o)).Distinct().ToList()))
            .ToList();
        var worst = judged.Where(x => x.Hallucinated.Count > 0).OrderByDescending(x => x.Hallucinated.Count).FirstOrDefault();
        if (worst.Response is null) return null;
        var faithful = judged.FirstOrDefault(x => x.Hallucinated.Count == 0 && scene.All(o => x.Named.Contains(o)));
        string hallucinated = string.Join(", ", worst.Hallucinated);
        return faithful.Response is not null
            ? new Verdict(faithful.Response.Ids, worst.Response.Ids, $"hallucinated: {hallucinated}; chosen: a faithful sample")
            : new Verdict(referenceCaption, worst.Response.Ids, $"hallucinated: {hallucinated}; chosen: the reference caption");
    }
}
