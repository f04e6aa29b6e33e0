using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>Stage <c>sft</c>: the SFT-only baseline of the distilled student. Exactly the student's architecture and
/// budget: the same <see cref="StudentSchedule"/> (projector warm-up, dense epochs, the same upcycling to MoE and
/// MoE epochs), the same initialisation, optimiser, batches and shuffles as <c>mimic</c>, the teacher's vision
/// tower copied and frozen the same way, but no teacher signal: cross-entropy on the ground-truth responses of the
/// students' labelled share of the training split (<see cref="PreparedData.LabelledSplit"/>; plus the MoE aux loss in
/// the MoE phase). When that share is smaller than what the distilled student trains on (the labelled and the pool
/// samples), every phase runs proportionally more epochs (<see cref="BudgetFactor"/>), so that both take the same number
/// of optimiser steps. Held-out: response cross-entropy on the validation split. Writes the final student (MoE when the
/// schedule upcycles) to one checkpoint directory.</summary>
public sealed class SftStudent
{
    public const string DensePhase = "dense", MoePhase = "moe";

    private readonly string _stage;
    private readonly PreparedData _data;
    private readonly VlmConfig _config;
    private readonly StudentSchedule _schedule;
    private readonly TrainOptions _train;
    private readonly double _auxWeight;
    private readonly string _teacherCheckpoint;
    private readonly string _outputDir;
    private readonly Placement? _placement;
    private readonly TrainingStateStore? _states;
    private readonly StudentInit? _init;

    /// <param name="config">The dense student architecture (the schedule upcycles it).</param>
    /// <param name="auxWeight">Coefficient of the MoE aux loss (as in mimic).</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    public SftStudent(string stage, PreparedData data, VlmConfig config, StudentSchedule schedule, TrainOptions train,
        double auxWeight, string teacherCheckpoint, string outputDir, Placement? placement = null, TrainingStateStore? states = null,
        StudentInit? init = null)
    {
        _init = init;
        _stage = stage;
        _data = data;
        _config = config;
        _schedule = schedule.Validate();
        _train = train;
        _auxWeight = auxWeight;
        _teacherCheckpoint = teacherCheckpoint;
        _outputDir = outputDir;
        _placement = placement;
        _states = states;
    }

    public StageOutcome Run(IStageProgress progress, CancellationToken cancellation)
    {
        var train = _data.Rows(PreparedData.LabelledSplit);
        var heldOut = _data.Rows("val");
        if (train.Count == 0) throw new InvalidOperationException($"{_stage}: the training split of {_data.DatasetDir} is empty");
        var imageFormat = _data.ImageFormat;
        int padId = _data.PadId;
        var objective = new StudentObjective<SampleRow>(
            (model, rows) => SftLoss.Compute(model, rows, imageFormat, padId, _auxWeight),
            heldOut.Count == 0 ? null : student => [("heldout_ce", SftLoss.HeldOut(student, heldOut, imageFormat, padId, _train.BatchSize))]);
        int factor = BudgetFactor(_data);
        var curriculum = new StudentCurriculum(_stage, _config, _schedule.Times(factor), _train, _teacherCheckpoint, _placement, _states, _init);
        var figures = curriculum.Run(train, objective, (DensePhase, MoePhase), Captions(_data, PreparedData.LabelledSplit), imageFormat, padId,
            (student, phase) =>
            {
                if (phase == MoePhase || !_schedule.UpcyclesToMoe) ModelFiles.Save(student, _data, _outputDir);
            },
            progress, cancellation);
        figures["train_samples"] = train.Count;
        figures["epoch_factor"] = factor;
        figures["heldout_samples"] = heldOut.Count;
        return new StageOutcome(_outputDir, figures);
    }

    /// <summary>How many times the distilled student's epochs the baseline runs: the distillation samples (labelled and
    /// pool) over the labelled ones, rounded; 1 when every training sample is labelled.</summary>
    public static int BudgetFactor(PreparedData data)
    {
        var (labelled, train) = data.LabelledCounts;
        return Math.Max(1, (int)Math.Round((double)train / labelled));
    }

    /// <summary>The caption samples of a split (the projector warm-up data).</summary>
    public static IReadOnlyList<SampleRow> Captions(PreparedData data, string split)
    {
        var samples = data.Samples(split);
        var rows = data.Rows(split);
        return Enumerable.Range(0, samples.Count).Where(i => samples[i].Task == Data.ShapesVocabulary.Caption).Select(i => rows[i]).ToList();
    }
}
