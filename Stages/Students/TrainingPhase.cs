using System.Diagnostics;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>One phase of a student's training (projector warm-up, dense, MoE): <see cref="Epochs"/> passes over the
/// rows in a seeded shuffle (<see cref="ShuffleSeed"/> + epoch), a fresh AdamW with the warm-up/cosine schedule over
/// the phase's steps and the parameters trainable at its start.</summary>
public sealed record PhaseSpec(string Stage, string Phase, int Epochs, TrainOptions Train, int ShuffleSeed);

/// <summary>Runs a <see cref="PhaseSpec"/>: the loss function builds one batch's scalar loss (forward included),
/// the optimiser steps on it; the held-out function (if any) is measured before the first epoch and after every
/// epoch, in eval mode. Progress: one report per step (phase name) and per held-out measurement
/// (<c>phase-heldout</c>, loss = the first metric). With <see cref="IPhaseCheckpoints"/> the phase is saved at the end
/// of every epoch and, when a saved state of it exists, continues after its last epoch: the seeded shuffles make the
/// rest of the phase the same as in a run that never stopped.</summary>
public static class TrainingPhase
{
    public static PhaseResult Run<T>(VisionLanguageModel model, PhaseSpec spec, IReadOnlyList<T> rows,
        Func<IReadOnlyList<T>, Tensor> loss, Func<IReadOnlyList<(string Metric, double Value)>>? heldOut,
        IStageProgress progress, CancellationToken cancellation, IPhaseCheckpoints? checkpoints = null)
    {
        if (spec.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(spec), spec.Epochs, $"{spec.Stage} {spec.Phase}: epochs must not be negative");
        if (spec.Epochs > 0 && rows.Count == 0) throw new InvalidOperationException($"{spec.Stage} {spec.Phase}: no training rows");
        int batchSize = spec.Train.BatchSize;
        long stepsPerEpoch = (rows.Count + batchSize - 1) / batchSize;
        long totalSteps = stepsPerEpoch * spec.Epochs;
        var curves = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var epochLosses = new List<double>();
        long samples = 0, sessionSamples = 0;

        using var optimization = spec.Epochs > 0
            ? new Optimization(model.parameters(), spec.Train with { Epochs = spec.Epochs }, totalSteps)
            : null;
        var resumed = optimization is null ? null : checkpoints?.Resume(spec.Phase, model, optimization);
        if (resumed is null) Measure(0);
        else
        {
            samples = resumed.Samples;
            epochLosses.AddRange(resumed.EpochLosses);
            foreach (var (name, values) in resumed.HeldOut) curves[name] = values.ToList();
        }
        if (optimization is not null)
        {
            var clock = Stopwatch.StartNew();
            for (int epoch = (resumed?.Epochs ?? 0) + 1; epoch <= spec.Epochs; epoch++)
            {
                model.train();
                double sum = 0;
                int batches = 0;
                foreach (var chunk in TeacherPretraining.Shuffled(rows, spec.ShuffleSeed + epoch).Chunk(batchSize))
                {
                    cancellation.ThrowIfCancellationRequested();
                    double value;
                    using (var scope = NewDisposeScope())
                    {
                        var total = loss(chunk);
                        value = total.item<float>();
                        if (!double.IsFinite(value))
                            throw new InvalidOperationException($"{spec.Stage} {spec.Phase}: the loss is {value} at epoch {epoch}, step {optimization.StepsTaken + 1}");
                        optimization.Step(total);
                    }
                    sum += value;
                    batches++;
                    samples += chunk.Length;
                    sessionSamples += chunk.Length;
                    progress.Report(new StageProgress(spec.Stage, spec.Phase, optimization.StepsTaken, totalSteps,
                        sessionSamples / Math.Max(1e-9, clock.Elapsed.TotalSeconds), value));
                }
                epochLosses.Add(sum / batches);
                Measure(epoch);
                checkpoints?.Save(spec.Phase, new PhaseProgress(epoch, samples, epochLosses.ToList(),
                    curves.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value.ToList(), StringComparer.Ordinal)),
                    model, optimization);
            }
        }
        model.eval();
        return new PhaseResult(spec.Phase, spec.Epochs, totalSteps, samples, epochLosses,
            curves.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value, StringComparer.Ordinal),
            model.ParameterCount(), ParameterAccounting.Activated(model.Config));

        void Measure(int epoch)
        {
            if (heldOut is null) return;
            model.eval();
            var metrics = heldOut();
            foreach (var (name, value) in metrics)
            {
                if (!curves.TryGetValue(name, out var curve)) curves[name] = curve = new List<double>();
                curve.Add(value);
            }
            if (metrics.Count > 0)
                progress.Report(new StageProgress(spec.Stage, spec.Phase + "-heldout", epoch, spec.Epochs, 0, metrics[0].Value));
        }
    }
}
