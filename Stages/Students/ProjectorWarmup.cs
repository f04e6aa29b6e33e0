using Distill.Stages.Arrow;
using Distill.Models;
using Distill.Stages.Flow;
using Distill.Stages.Training;

namespace Distill.Stages.Students;

/// <summary>Phase <c>warmup</c> (DESIGN 5.2 step 1, LLaVA's stage 1): only the projector trains, with
/// cross-entropy on the caption responses, so the freshly initialised projector maps the frozen vision tower's
/// patches into the language model's space before the language model itself learns from them.</summary>
public static class ProjectorWarmup
{
    public const string Phase = "warmup";

    public static PhaseResult Run(Student student, string stage, int epochs, TrainOptions train,
        IReadOnlyList<SampleRow> captions, ImageFormat imageFormat, int padId, IStageProgress progress, CancellationToken cancellation,
        IPhaseCheckpoints? checkpoints = null)
    {
        if (captions.Count == 0)
            throw new InvalidOperationException($"{stage}: projector warm-up needs caption samples in the training split; there are none (add 'caption' to distill.data.families or set distill.mimic.projector-warmup-epochs = 0)");
        StudentModels.TrainOnlyProjector(student.Model);
        try
        {
            return TrainingPhase.Run(student.Model, new PhaseSpec(stage, Phase, epochs, train, train.Seed * 7 + 100), captions,
                rows => SftLoss.Compute(student, rows, imageFormat, padId, auxWeight: 0), heldOut: null, progress, cancellation,
                checkpoints);
        }
        finally
        {
            StudentModels.TrainAllButVision(student.Model);
        }
    }
}
