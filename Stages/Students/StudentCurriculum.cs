using Distill.Models;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>Runs a <see cref="StudentSchedule"/> (DESIGN 5.2) on one student: create it (seeded, the teacher's
/// vision tower frozen), projector warm-up on captions (optional), the dense phase, then, when the schedule
/// upcycles, seeded sparse upcycling and the MoE phase. The frozen vision tower runs once per image
/// (<see cref="VisionFeatureCache"/>), not once per step. The objective decides what is learnt (distillation or
/// SFT); everything else (initialisation, phases, epochs, steps, shuffles, optimiser) is the same for every stage
/// that uses the same schedule and rows, which makes the SFT baseline a fair comparison. The phases are named by
/// the caller (<c>d2d</c>/<c>d2s</c> for mimic, <c>dense</c>/<c>moe</c> for sft).</summary>
public sealed class StudentCurriculum
{
    private readonly string _stage;
    private readonly VlmConfig _config;
    private readonly StudentSchedule _schedule;
    private readonly TrainOptions _train;
    private readonly string _teacherCheckpoint;
    private readonly Device? _device;

    /// <param name="config">The dense student architecture (no MoE: the schedule upcycles).</param>
    /// <param name="train">Optimiser settings of every phase; its <c>Epochs</c> is ignored (the schedule's count).</param>
    public StudentCurriculum(string stage, VlmConfig config, StudentSchedule schedule, TrainOptions train,
        string teacherCheckpoint, Device? device = null)
    {
        _stage = stage;
        _config = config;
        _schedule = schedule.Validate();
        _train = train;
        _teacherCheckpoint = teacherCheckpoint;
        _device = device;
    }

    /// <summary>Trains a new student through every phase and returns the outcome figures of each
    /// (<see cref="PhaseResult.AddFigures"/>). <paramref name="afterPhase"/> gets the student and the phase name
    /// after the dense and after the MoE phase (to save checkpoints); the student is disposed afterwards.</summary>
    public Dictionary<string, double> Run<T>(IReadOnlyList<T> rows, StudentObjective<T> objective,
        (string Dense, string Moe) phases, IReadOnlyList<SampleRow> captions, int imageSize, int padId,
        Action<VisionLanguageModel, string> afterPhase, IStageProgress progress, CancellationToken cancellation)
    {
        var figures = new Dictionary<string, double>(StringComparer.Ordinal);
        using var model = StudentModels.Create(_config, _teacherCheckpoint, _train.Seed, _device);
        using var features = new VisionFeatureCache();
        var student = new Student(model, features);
        Func<IReadOnlyList<(string, double)>>? heldOut = objective.HeldOut is null ? null : () => objective.HeldOut(student);

        if (_schedule.ProjectorWarmupEpochs > 0)
            ProjectorWarmup.Run(student, _stage, _schedule.ProjectorWarmupEpochs, _train, captions, imageSize, padId, progress, cancellation)
                .AddFigures(figures);

        TrainingPhase.Run(model, Spec(phases.Dense, _schedule.DenseEpochs, 200), rows, batch => objective.Loss(student, batch),
            heldOut, progress, cancellation).AddFigures(figures);
        afterPhase(model, phases.Dense);

        if (_schedule.Moe is { } moe)
        {
            StudentModels.Upcycle(model, moe, _train.Seed);
            TrainingPhase.Run(model, Spec(phases.Moe, _schedule.MoeEpochs, 300), rows, batch => objective.Loss(student, batch),
                heldOut, progress, cancellation).AddFigures(figures);
            afterPhase(model, phases.Moe);
        }
        figures["params"] = model.ParameterCount();
        figures["params_activated"] = Models.Accounting.ParameterAccounting.Activated(model.Config);
        figures["vision_cache_images"] = features.Count;
        return figures;
    }

    private PhaseSpec Spec(string phase, int epochs, int seedOffset) =>
        new(_stage, phase, epochs, _train, _train.Seed * 7 + seedOffset);
}
