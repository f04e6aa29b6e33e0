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
        using var session = Start(objective, phases, captions, imageFormat, padId, afterPhase, progress, streamedRows: null, cancellation);
        return session.Finish(rows, cancellation);
    }

    /// <summary>Starts the curriculum for rows that are still to come. With <paramref name="streamedRows"/> (the
    /// training rows that will stream in) the dense phase's first epoch trains while they arrive
    /// (<see cref="Session{T}.Stream"/>): the student is created and warmed up now. It does not stream when the
    /// schedule has no dense epoch or a saved state continues the stage (that state holds the first epoch); then
    /// <see cref="Session{T}.Stream"/> does nothing and <see cref="Session{T}.Finish"/> trains every phase.</summary>
    public Session<T> Start<T>(StudentObjective<T> objective, (string Dense, string Moe) phases,
        IReadOnlyList<SampleRow> captions, ImageFormat imageFormat, int padId, Action<VisionLanguageModel, string> afterPhase,
        IStageProgress progress, int? streamedRows, CancellationToken cancellation) =>
        new(this, objective, phases, captions, imageFormat, padId, afterPhase, progress, streamedRows, cancellation);

    /// <summary>One run of the curriculum on one student (see <see cref="Start{T}"/>).</summary>
    public sealed class Session<T> : IDisposable
    {
        private readonly StudentCurriculum _c;
        private readonly StudentObjective<T> _objective;
        private readonly (string Dense, string Moe) _phases;
        private readonly IReadOnlyList<SampleRow> _captions;
        private readonly ImageFormat _imageFormat;
        private readonly int _padId;
        private readonly Action<VisionLanguageModel, string> _afterPhase;
        private readonly IStageProgress _progress;
        private readonly List<(string Name, int Epochs)> _plan;
        private readonly Dictionary<string, double> _figures;
        private readonly int _from;
        private readonly StoredPhaseCheckpoints? _checkpoints;
        private readonly VisionLanguageModel _model;
        private readonly VisionFeatureCache _features = new();
        private readonly Student _student;
        private readonly Func<IReadOnlyList<(string, double)>>? _heldOut;
        private TrainingPhase<T>? _streamed;                 // the dense phase whose first epoch streams
        private Dictionary<string, Tensor>? _startWeights;   // the student before the streamed epoch, for its held-out start
        private bool _warmedUp;

        internal Session(StudentCurriculum curriculum, StudentObjective<T> objective, (string Dense, string Moe) phases,
            IReadOnlyList<SampleRow> captions, ImageFormat imageFormat, int padId, Action<VisionLanguageModel, string> afterPhase,
            IStageProgress progress, int? streamedRows, CancellationToken cancellation)
        {
            _c = curriculum;
            _objective = objective;
            _phases = phases;
            _captions = captions;
            _imageFormat = imageFormat;
            _padId = padId;
            _afterPhase = afterPhase;
            _progress = progress;
            _plan = curriculum.Plan(phases);
            var saved = curriculum._states?.Load(state => StoredPhaseCheckpoints.Check(state, _plan));
            _figures = new Dictionary<string, double>(saved?.Figures ?? new Dictionary<string, double>(), StringComparer.Ordinal);
            _from = saved is null ? 0 : _plan.FindIndex(p => p.Name == saved.Phase);   // phases before it are done
            if (saved is not null)
            {
                _figures[TrainingState.ResumedFigure] = saved.StageEpoch;
                progress.Report(new StageProgress(curriculum._stage, TrainingState.ResumedPhase, saved.StageEpoch, _plan.Sum(p => p.Epochs), 0, double.NaN));
            }
            _checkpoints = curriculum._states is null ? null : new StoredPhaseCheckpoints(curriculum._states, _plan, _figures, saved, progress);
            _model = StudentModels.Create(curriculum._config, curriculum._teacherCheckpoint, curriculum._train.Seed, curriculum._placement, curriculum._init);
            _student = new Student(_model, _features);
            _heldOut = objective.HeldOut is null ? null : () => objective.HeldOut(_student);
            try
            {
                if (streamedRows is { } count && saved is null && curriculum._schedule.DenseEpochs > 0)
                {
                    WarmUp(cancellation);
                    _streamed = DensePhase(count);
                    if (_heldOut is not null) _startWeights = Weights(_model);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>True when the dense phase's first epoch trains on the rows as they stream in.</summary>
        public bool Streams => _streamed is not null;

        /// <summary>Trains on rows of the streamed epoch (a step per full batch) and returns the mean loss of the steps
        /// taken (NaN when none); without streaming nothing happens.</summary>
        public double Stream(IReadOnlyList<T> rows, CancellationToken cancellation) =>
            _streamed is null ? double.NaN : _streamed.Stream(rows, cancellation);

        /// <summary>Trains what remains of every phase on <paramref name="rows"/> (all the training rows, the streamed
        /// ones too, in a fixed order) and returns the figures.</summary>
        public Dictionary<string, double> Finish(IReadOnlyList<T> rows, CancellationToken cancellation) =>
            Finish(EpochRows.InMemory(rows), cancellation);

        /// <summary>The same with the rows from memory or from disk (<see cref="IEpochRows{T}"/>).</summary>
        public Dictionary<string, double> Finish(IEpochRows<T> rows, CancellationToken cancellation)
        {
            var dense = _streamed;
            _streamed = null;
            if (dense is not null)
            {
                if (_startWeights is not null) dense.MeasureStart(() => WithWeights(_startWeights, _heldOut!));
                dense.EndStreamedEpoch(cancellation);
            }
            else
            {
                WarmUp(cancellation);
                dense = _from <= Index(_plan, _phases.Dense) ? DensePhase(rows.Count) : null;
                dense?.MeasureStart();
            }
            if (dense is not null)
            {
                using (dense)
                {
                    dense.RunEpochs(rows, cancellation);
                    dense.Finish().AddFigures(_figures);
                }
                _afterPhase(_model, _phases.Dense);
            }

            if (_c._schedule.Moe is { } moe)
            {
                StudentModels.Upcycle(_model, moe, _c._train.Seed);
                TrainingPhase.Run(_model, _c.Spec(_phases.Moe, _c._schedule.MoeEpochs, 300), rows, batch => _objective.Loss(_student, batch),
                    _heldOut, _progress, cancellation, _checkpoints).AddFigures(_figures);
                _afterPhase(_model, _phases.Moe);
            }
            _figures["params"] = _model.ParameterCount();
            _figures["params_activated"] = Models.Accounting.ParameterAccounting.Activated(_model.Config);
            _figures["vision_cache_images"] = _features.Count;
            _c._states?.Delete();
            return _figures;
        }

        private void WarmUp(CancellationToken cancellation)
        {
            if (_warmedUp) return;
            _warmedUp = true;
            if (_c._schedule.ProjectorWarmupEpochs > 0 && _from <= Index(_plan, ProjectorWarmup.Phase))
                ProjectorWarmup.Run(_student, _c._stage, _c._schedule.ProjectorWarmupEpochs, _c._train, _captions, _imageFormat, _padId,
                    _progress, cancellation, _checkpoints).AddFigures(_figures);
        }

        private TrainingPhase<T> DensePhase(int rows) =>
            new(_model, _c.Spec(_phases.Dense, _c._schedule.DenseEpochs, 200), rows, batch => _objective.Loss(_student, batch),
                _heldOut, _progress, _checkpoints);

        /// <summary>A copy of every tensor of the model.</summary>
        private static Dictionary<string, Tensor> Weights(VisionLanguageModel model)
        {
            using var noGrad = no_grad();
            return model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
        }

        /// <summary>Measures with the model's weights set to <paramref name="weights"/>, then puts its own back.</summary>
        private IReadOnlyList<(string, double)> WithWeights(Dictionary<string, Tensor> weights, Func<IReadOnlyList<(string, double)>> measure)
        {
            var own = Weights(_model);
            try
            {
                _model.load_state_dict(weights);
                return measure();
            }
            finally
            {
                _model.load_state_dict(own);
                foreach (var t in own.Values) t.Dispose();
            }
        }

        public void Dispose()
        {
            _streamed?.Dispose();
            _streamed = null;
            if (_startWeights is not null) foreach (var t in _startWeights.Values) t.Dispose();
            _startWeights = null;
            _features.Dispose();
            _model.Dispose();
        }
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

    private PhaseSpec Spec(string phase, int epochs, int seedOffset) =>
        new(_stage, phase, epochs, _train, _train.Seed * 7 + seedOffset);
}
