using Distill.Stages.Data;

namespace Distill.Stages.Scoring;

/// <summary>CHAIR (Rohrbach et al. 2018) over the caption family, plus the object recall that keeps a model from
/// scoring well by saying nothing.
/// <see cref="ChairI"/> = hallucinated mentions / all mentions; <see cref="ChairS"/> = captions with at least one
/// hallucinated mention / all captions (a caption that mentions nothing hallucinates nothing);
/// <see cref="ObjectRecall"/> = scene objects (distinct colour + shape) the captions mention / all of them.</summary>
public sealed record ChairScore(
    int Captions,
    int HallucinatingCaptions,
    int Mentions,
    int HallucinatedMentions,
    int CaptionsWithoutMentions,
    int SceneObjects,
    int MentionedSceneObjects)
{
    public double ChairI => Mentions == 0 ? 0 : (double)HallucinatedMentions / Mentions;
    public double ChairS => Captions == 0 ? 0 : (double)HallucinatingCaptions / Captions;
    public double ObjectRecall => SceneObjects == 0 ? 0 : (double)MentionedSceneObjects / SceneObjects;
}

/// <summary>One caption judged against its scene: its mentions, those not in the scene, and how many of the scene's
/// objects (distinct colour + shape) it mentions by colour and shape.</summary>
public sealed record CaptionJudgement(IReadOnlyList<ObjectMention> Mentions, IReadOnlyList<ObjectMention> Hallucinated, int SceneObjects, int MentionedSceneObjects);

public static class ChairMetrics
{
    public static CaptionJudgement Judge(string caption, IReadOnlyList<SceneObject> scene)
    {
        var mentions = CaptionObjects.Parse(caption);
        var hallucinated = mentions.Where(m => !scene.Any(m.Matches)).ToList();
        var objects = scene.Select(o => (o.Colour, o.Shape)).Distinct().ToList();
        int mentioned = objects.Count(o => mentions.Any(m => m.Colour == o.Colour && m.Shape == o.Shape));
        return new CaptionJudgement(mentions, hallucinated, objects.Count, mentioned);
    }

    public static ChairScore Compute(IEnumerable<CaptionJudgement> captions)
    {
        int n = 0, hallucinating = 0, mentions = 0, hallucinated = 0, silent = 0, objects = 0, covered = 0;
        foreach (var c in captions)
        {
            n++;
            mentions += c.Mentions.Count;
            hallucinated += c.Hallucinated.Count;
            if (c.Hallucinated.Count > 0) hallucinating++;
            if (c.Mentions.Count == 0) silent++;
            objects += c.SceneObjects;
            covered += c.MentionedSceneObjects;
        }
        return new ChairScore(n, hallucinating, mentions, hallucinated, silent, objects, covered);
    }
}
