using Distill.Models.Torch;
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
/// the caller (<c>d2d</c>/<c>d2s</c> for mimic, <c>dense</c>/<c>moe</c> for sft). With a
/// <see cref="TrainingStateStore"/> the state is saved at the end of every epoch of every phase, and a run that stopped
/// continues after its last saved epoch: finished phases are skipped (their figures and checkpoints are kept), the
/// phase it stopped in goes on with the saved model, optimiser and figures; the state is deleted at the end.</summary>
public sealed class StudentCurriculum
{
    private readonly string _stage;
    private readonly VlmConfig _config;
    private readonly StudentSchedule _schedule;
    private readonly TrainOptions _train;
    private readonly string _teacherCheckpoint;
    private readonly Placement? _placement;
    private readonly TrainingStateStore? _states;
    private readonly StudentInit _init;

    /// <param name="config">The dense student architecture (no MoE: the schedule upcycles).</param>
    /// <param name="train">Optimiser settings of every phase; its <c>Epochs</c> is ignored (the schedule's count).</param>
    /// <param name="states">where the stage's mid-stage training state lives; null = not saved, never resumed.</param>
    /// <param name="init">where the student's weights start (null: fresh LM, the teacher's tower).</param>
    public StudentCurriculum(string stage, VlmConfig config, StudentSchedule schedule, TrainOptions train,
        string teacherCheckpoint, Placement? placement = null, TrainingStateStore? states = null, StudentInit? init = null)
    {
        _init = init ?? StudentInit.None;
        _stage = stage;
        _config = config;
        _schedule = schedule.Validate();
        _train = train;
        _teacherCheckpoint = teacherCheckpoint;
        _placement = placement;
        _states = states;
    }

    /// <summary>Trains a new student through every phase and returns the outcome figures of each
    /// (<see cref="PhaseResult.AddFigures"/>). <paramref name="afterPhase"/> gets the student and the phase name
    /// after the dense and after the MoE phase (to save checkpoints); the student is disposed afterwards. A resumed
    /// run adds <see cref="TrainingState.ResumedFigure"/>.</summary>
    public Dictionary<string, double> Run<T>(IReadOnlyList<T> rows, StudentObjective<T> objective,
        (string Dense, string Moe) phases, IReadOnlyList<SampleRow> captions, ImageFormat imageFormat, int padId,
        Action<VisionLanguageModel, string> afterPhase, IStageProgress progress, CancellationToken cancellation)
    {
        var plan = Plan(phases);
        var saved = _states?.Load(state => Check(state, plan));
        var figures = new Dictionary<string, double>(saved?.Figures ?? new Dictionary<string, double>(), StringComparer.Ordinal);
        int from = saved is null ? 0 : plan.FindIndex(p => p.Name == saved.Phase);   // phases before it are done
        if (saved is not null)
        {
            figures[TrainingState.ResumedFigure] = saved.StageEpoch;
            progress.Report(new StageProgress(_stage, TrainingState.ResumedPhase, saved.StageEpoch, plan.Sum(p => p.Epochs), 0, double.NaN));
        }
        var checkpoints = _states is null ? null : new StateCheckpoints(_states, plan, figures, saved, progress);

        using var model = StudentModels.Create(_config, _teacherCheckpoint, _train.Seed, _placement, _init);
        using var features = new VisionFeatureCache();
        var student = new Student(model, features);
        Func<IReadOnlyList<(string, double)>>? heldOut = objective.HeldOut is null ? null : () => objective.HeldOut(student);

        if (_schedule.ProjectorWarmupEpochs > 0 && from <= Index(plan, ProjectorWarmup.Phase))
            ProjectorWarmup.Run(student, _stage, _schedule.ProjectorWarmupEpochs, _train, captions, imageFormat, padId, progress, cancellation,
                checkpoints).AddFigures(figures);

        if (from <= Index(plan, phases.Dense))
        {
            TrainingPhase.Run(model, Spec(phases.Dense, _schedule.DenseEpochs, 200), rows, batch => objective.Loss(student, batch),
                heldOut, progress, cancellation, checkpoints).AddFigures(figures);
            afterPhase(model, phases.Dense);
        }

        if (_schedule.Moe is { } moe)
        {
            StudentModels.Upcycle(model, moe, _train.Seed);
            TrainingPhase.Run(model, Spec(phases.Moe, _schedule.MoeEpochs, 300), rows, batch => objective.Loss(student, batch),
                heldOut, progress, cancellation, checkpoints).AddFigures(figures);
            afterPhase(model, phases.Moe);
        }
        figures["params"] = model.ParameterCount();
        figures["params_activated"] = Models.Accounting.ParameterAccounting.Activated(model.Config);
        figures["vision_cache_images"] = features.Count;
        _states?.Delete();
        return figures;
    }

    /// <summary>The phases of the schedule in order, with their epochs.</summary>
    private List<(string Name, int Epochs)> Plan((string Dense, string Moe) phases)
    {
        var plan = new List<(string, int)>();
        if (_schedule.ProjectorWarmupEpochs > 0) plan.Add((ProjectorWarmup.Phase, _schedule.ProjectorWarmupEpochs));
        plan.Add((phases.Dense, _schedule.DenseEpochs));
        if (_schedule.UpcyclesToMoe) plan.Add((phases.Moe, _schedule.MoeEpochs));
        return plan;
    }

    private static int Index(List<(string Name, int Epochs)> plan, string phase) => plan.FindIndex(p => p.Name == phase);

    /// <summary>Why a saved state cannot continue this schedule, or null.</summary>
    private static string? Check(TrainingState state, List<(string Name, int Epochs)> plan)
    {
        int i = Index(plan, state.Phase);
        if (i < 0 || state.Epoch > plan[i].Epochs)
            return $"epoch {state.Epoch} of phase '{state.Phase}' is not in this schedule ({string.Join(", ", plan.Select(p => $"{p.Name} {p.Epochs}"))})";
        if (!state.Values.ContainsKey(StateCheckpoints.SamplesValue)) return $"the state lacks '{StateCheckpoints.SamplesValue}'";
        return null;
    }

    private PhaseSpec Spec(string phase, int epochs, int seedOffset) =>
        new(_stage, phase, epochs, _train, _train.Seed * 7 + seedOffset);

    /// <summary>Saves every epoch of every phase to the store with the curriculum's figures so far, and hands the
    /// saved state to the phase it belongs to (once).</summary>
    private sealed class StateCheckpoints(TrainingStateStore store, List<(string Name, int Epochs)> plan,
        Dictionary<string, double> figures, TrainingState? saved, IStageProgress progress) : IPhaseCheckpoints
    {
        public const string SamplesValue = "samples", LossSeries = "epoch_loss", HeldOutPrefix = "heldout.";

        private TrainingState? _saved = saved;

        public PhaseProgress? Resume(string phase, VisionLanguageModel model, Optimization optimization)
        {
            if (_saved is not { } state || state.Phase != phase) return null;
            _saved = null;
            store.Restore(model, optimization);
            return new PhaseProgress(state.Epoch, (long)state.Values[SamplesValue],
                state.Series.TryGetValue(LossSeries, out var losses) ? losses : [],
                state.Series.Where(kv => kv.Key.StartsWith(HeldOutPrefix, StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key[HeldOutPrefix.Length..], kv => kv.Value, StringComparer.Ordinal));
        }

        public void Save(string phase, PhaseProgress progressSoFar, VisionLanguageModel model, Optimization optimization)
        {
            int before = plan.TakeWhile(p => p.Name != phase).Sum(p => p.Epochs);
            var series = new Dictionary<string, IReadOnlyList<double>>(StringComparer.Ordinal) { [LossSeries] = progressSoFar.EpochLosses };
            foreach (var (metric, values) in progressSoFar.HeldOut) series[HeldOutPrefix + metric] = values;
            var state = new TrainingState(phase, progressSoFar.Epochs, before + progressSoFar.Epochs,
                new Dictionary<string, double>(figures, StringComparer.Ordinal),
                new Dictionary<string, double> { [SamplesValue] = progressSoFar.Samples }, series);
            store.Save(state, model, optimization, progress, plan.Sum(p => p.Epochs));
        }
    }
}
