using System.Diagnostics;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Stages.Flow;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>One training phase (the teacher's pretraining; a student's warm-up, dense, MoE, preference or MoD phase):
/// <see cref="Epochs"/> passes over the rows in a seeded shuffle (<see cref="ShuffleSeed"/> + epoch), a fresh AdamW with
/// the warm-up/cosine schedule over the phase's steps and the parameters trainable at its start.</summary>
public sealed record PhaseSpec(string Stage, string Phase, int Epochs, TrainOptions Train, int ShuffleSeed);

/// <summary>Runs a <see cref="PhaseSpec"/> from rows that are all at hand.</summary>
public static class TrainingPhase
{
    /// <summary>Every epoch of the phase over <paramref name="rows"/> (see <see cref="TrainingPhase{T}"/>).</summary>
    public static PhaseResult Run<T>(VisionLanguageModel model, PhaseSpec spec, IReadOnlyList<T> rows,
        Func<IReadOnlyList<T>, Tensor> loss, Func<IReadOnlyList<(string Metric, double Value)>>? heldOut,
        IStageProgress progress, CancellationToken cancellation, IPhaseCheckpoints? checkpoints = null) =>
        Run(model, spec, EpochRows.InMemory(rows), loss, heldOut, progress, cancellation, checkpoints);

    /// <summary>Every epoch of the phase over <paramref name="rows"/>, from memory or from disk.</summary>
    public static PhaseResult Run<T>(VisionLanguageModel model, PhaseSpec spec, IEpochRows<T> rows,
        Func<IReadOnlyList<T>, Tensor> loss, Func<IReadOnlyList<(string Metric, double Value)>>? heldOut,
        IStageProgress progress, CancellationToken cancellation, IPhaseCheckpoints? checkpoints = null)
    {
        using var phase = new TrainingPhase<T>(model, spec, rows.Count, loss, heldOut, progress, checkpoints);
        phase.MeasureStart();
        phase.RunEpochs(rows, cancellation);
        return phase.Finish();
    }
}

/// <summary>The one training loop of the teacher and every student phase: the loss function builds one batch's scalar loss (forward
/// included), the optimiser steps on it; the held-out function (if any) is measured before the first epoch and after
/// every epoch, in eval mode. Progress: one report per step (phase name) and per held-out measurement
/// (<c>phase-heldout</c>, loss = the first metric). With <see cref="IPhaseCheckpoints"/> the phase is saved at the end
/// of every epoch and, when a saved state of it exists, continues after its last epoch: the seeded shuffles make the
/// rest of the phase the same as in a run that never stopped.
///
/// An epoch is either replayed from rows at hand (<see cref="RunEpochs"/>: the seeded shuffle, batches of the batch
/// size) or streamed: the caller feeds the first epoch's rows as they arrive (<see cref="Stream"/>, in arrival order,
/// a step whenever a batch is full), then <see cref="EndStreamedEpoch"/> trains the rest and closes the epoch. The
/// schedule is laid out for <c>rowCount</c> rows per epoch.</summary>
public sealed class TrainingPhase<T> : IDisposable
{
    private readonly VisionLanguageModel _model;
    private readonly PhaseSpec _spec;
    private readonly Func<IReadOnlyList<T>, Tensor> _loss;
    private readonly Func<IReadOnlyList<(string Metric, double Value)>>? _heldOut;
    private readonly IStageProgress _progress;
    private readonly IPhaseCheckpoints? _checkpoints;
    private readonly Action<int>? _afterEpoch;
    private readonly Optimization? _optimization;
    private readonly long _totalSteps;
    private readonly Dictionary<string, List<double>> _curves = new(StringComparer.Ordinal);
    private readonly List<double> _epochLosses = new();
    private readonly List<T> _pending = new();
    private readonly Stopwatch _clock = new();
    private long _samples, _sessionSamples;
    private double _epochLossSum;
    private int _epochBatches, _epoch;
    private bool _measuredStart;

    /// <param name="rowCount">Training rows per epoch (the schedule's steps are laid out for them).</param>
    /// <param name="optimizer">Makes the phase's optimiser for its total steps (default: AdamW over every parameter
    /// with the spec's options); a phase with no epoch has none.</param>
    /// <param name="afterEpoch">Called with the epoch at the end of every epoch, after its held-out measurement and
    /// before it is saved (a stage's per-epoch figures).</param>
    public TrainingPhase(VisionLanguageModel model, PhaseSpec spec, int rowCount, Func<IReadOnlyList<T>, Tensor> loss,
        Func<IReadOnlyList<(string Metric, double Value)>>? heldOut, IStageProgress progress, IPhaseCheckpoints? checkpoints = null,
        Func<long, Optimization>? optimizer = null, Action<int>? afterEpoch = null)
    {
        if (spec.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(spec), spec.Epochs, $"{spec.Stage} {spec.Phase}: epochs must not be negative");
        if (spec.Epochs > 0 && rowCount == 0) throw new InvalidOperationException($"{spec.Stage} {spec.Phase}: no training rows");
        _model = model;
        _spec = spec;
        _loss = loss;
        _heldOut = heldOut;
        _progress = progress;
        _checkpoints = checkpoints;
        _afterEpoch = afterEpoch;
        long stepsPerEpoch = (rowCount + spec.Train.BatchSize - 1) / spec.Train.BatchSize;
        _totalSteps = stepsPerEpoch * spec.Epochs;
        _optimization = spec.Epochs <= 0 ? null
            : optimizer?.Invoke(_totalSteps) ?? new Optimization(model.parameters(), spec.Train with { Epochs = spec.Epochs }, _totalSteps);
        if (_optimization is not null && checkpoints?.Resume(spec.Phase, model, _optimization) is { } resumed)
        {
            _epoch = resumed.Epochs;
            _samples = resumed.Samples;
            _epochLosses.AddRange(resumed.EpochLosses);
            foreach (var (name, values) in resumed.HeldOut) _curves[name] = values.ToList();
            _measuredStart = true;
            Resumed = true;
        }
    }

    /// <summary>The loss of the last step taken (NaN before the first).</summary>
    public double LastLoss { get; private set; } = double.NaN;

    /// <summary>Samples trained in this process (a resumed phase's earlier epochs not counted).</summary>
    public long SessionSamples => _sessionSamples;

    /// <summary>Epochs finished (those of a resumed state included).</summary>
    public int EpochsDone => _epoch;

    /// <summary>True when the phase continues a saved state (its start was measured then).</summary>
    public bool Resumed { get; private set; }

    /// <summary>Measures the held-out metrics before training (point 0 of the curves), with the phase's held-out
    /// function or <paramref name="measure"/> (the same metrics of the model as it was at the start, for a streamed
    /// epoch whose held-out rows arrived after training began). Once per phase; nothing for a resumed phase.</summary>
    public void MeasureStart(Func<IReadOnlyList<(string Metric, double Value)>>? measure = null)
    {
        if (_measuredStart) return;
        _measuredStart = true;
        Measure(0, measure ?? _heldOut);
    }

    /// <summary>Rows of the streamed first epoch, in arrival order: a step for every full batch. Returns the mean
    /// loss of the steps taken (NaN when the rows did not fill a batch).</summary>
    public double Stream(IReadOnlyList<T> rows, CancellationToken cancellation)
    {
        if (_epoch != 0) throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: only the first epoch streams (epoch {_epoch} is done)");
        _pending.AddRange(rows);
        int batch = _spec.Train.BatchSize;
        double sum = 0;
        int steps = 0;
        while (_pending.Count >= batch)
        {
            var chunk = _pending.GetRange(0, batch).ToArray();
            _pending.RemoveRange(0, batch);
            sum += Step(chunk, cancellation);
            steps++;
        }
        return steps == 0 ? double.NaN : sum / steps;
    }

    /// <summary>Trains the streamed epoch's last, partial batch and closes the epoch (held-out, saved state).</summary>
    public void EndStreamedEpoch(CancellationToken cancellation)
    {
        if (_pending.Count > 0)
        {
            var chunk = _pending.ToArray();
            _pending.Clear();
            Step(chunk, cancellation);
        }
        if (_epochBatches == 0) throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: no training rows streamed in");
        EndEpoch();
    }

    /// <summary>The remaining epochs over <paramref name="rows"/>, each in its seeded shuffle.</summary>
    public void RunEpochs(IReadOnlyList<T> rows, CancellationToken cancellation) => RunEpochs(EpochRows.InMemory(rows), cancellation);

    /// <summary>The remaining epochs over <paramref name="rows"/>, each in the order of its seed.</summary>
    public void RunEpochs(IEpochRows<T> rows, CancellationToken cancellation)
    {
        if (_optimization is null) return;
        if (_pending.Count > 0 || _epochBatches > 0) throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: a streamed epoch is still open");
        while (_epoch < _spec.Epochs)
        {
            foreach (var chunk in rows.InOrder(_spec.ShuffleSeed + _epoch + 1).Chunk(_spec.Train.BatchSize))
                Step(chunk, cancellation);
            EndEpoch();
        }
    }

    /// <summary>The phase's outcome; the model is left in eval mode.</summary>
    public PhaseResult Finish()
    {
        _model.eval();
        return new PhaseResult(_spec.Phase, _spec.Epochs, _totalSteps, _samples, _epochLosses.ToList(), Curves(),
            _model.ParameterCount(), ParameterAccounting.Activated(_model.Config));
    }

    private double Step(IReadOnlyList<T> chunk, CancellationToken cancellation)
    {
        var optimization = _optimization ?? throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: the phase has no epoch to train");
        cancellation.ThrowIfCancellationRequested();
        if (_epochBatches == 0) _model.train();
        _clock.Start();
        double value;
        using (var scope = NewDisposeScope())
        {
            var total = _loss(chunk);
            value = total.item<float>();
            if (!double.IsFinite(value))
                throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: the loss is {value} at epoch {_epoch + 1}, step {optimization.StepsTaken + 1}");
            optimization.Step(total);
        }
        _clock.Stop();
        _epochLossSum += value;
        _epochBatches++;
        _samples += chunk.Count;
        _sessionSamples += chunk.Count;
        LastLoss = value;
        _progress.Report(new StageProgress(_spec.Stage, _spec.Phase, optimization.StepsTaken, _totalSteps,
            _sessionSamples / Math.Max(1e-9, _clock.Elapsed.TotalSeconds), value));
        return value;
    }

    private void EndEpoch()
    {
        _epochLosses.Add(_epochLossSum / _epochBatches);
        _epochLossSum = 0;
        _epochBatches = 0;
        _epoch++;
        if (!_measuredStart && _heldOut is not null)
            throw new InvalidOperationException($"{_spec.Stage} {_spec.Phase}: the held-out start was not measured (MeasureStart) before epoch {_epoch} ended");
        Measure(_epoch, _heldOut);
        _afterEpoch?.Invoke(_epoch);
        _checkpoints?.Save(_spec.Phase, new PhaseProgress(_epoch, _samples, _epochLosses.ToList(), Curves()), _model, _optimization!);
    }

    /// <summary>A copy of the held-out curves so far.</summary>
    private Dictionary<string, IReadOnlyList<double>> Curves() =>
        _curves.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value.ToList(), StringComparer.Ordinal);

    private void Measure(int epoch, Func<IReadOnlyList<(string Metric, double Value)>>? heldOut)
    {
        if (heldOut is null) return;
        _model.eval();
        var metrics = heldOut();
        foreach (var (name, value) in metrics)
        {
            if (!_curves.TryGetValue(name, out var curve)) _curves[name] = curve = new List<double>();
            curve.Add(value);
        }
        if (metrics.Count > 0)
            _progress.Report(new StageProgress(_spec.Stage, _spec.Phase + "-heldout", epoch, _spec.Epochs, 0, metrics[0].Value));
    }

    public void Dispose() => _optimization?.Dispose();
}
