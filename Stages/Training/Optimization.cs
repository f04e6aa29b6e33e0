using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>AdamW with gradient clipping and the warm-up/cosine schedule: one call per optimizer step.</summary>
public sealed class Optimization : IDisposable
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly optim.Optimizer _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly double _maxGradNorm;

    public Optimization(IEnumerable<Parameter> parameters, TrainOptions options, long totalSteps)
    {
        _parameters = parameters.Where(p => p.requires_grad).ToList();
        if (_parameters.Count == 0) throw new ArgumentException("no trainable parameters", nameof(parameters));
        _optimizer = optim.AdamW(_parameters, lr: options.LearningRate, weight_decay: options.WeightDecay);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, totalSteps);
        _maxGradNorm = options.MaxGradNorm;
    }

    public long StepsTaken { get; private set; }

    /// <summary>Back-propagates <paramref name="loss"/> and applies one update; returns the learning rate used.</summary>
    public double Step(Tensor loss)
    {
        double lr = _schedule.At(StepsTaken);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        _optimizer.zero_grad();
        loss.backward();
        if (_maxGradNorm > 0) nn.utils.clip_grad_norm_(_parameters, _maxGradNorm);
        _optimizer.step();
        StepsTaken++;
        return lr;
    }

    public void Dispose() => _optimizer.Dispose();
}
