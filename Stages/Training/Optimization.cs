using Distill.Models.Torch;
using System.Text;
using Distill.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>AdamW with gradient clipping and the warm-up/cosine schedule: one call per optimizer step.</summary>
public sealed class Optimization : IDisposable
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly AdamW _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly double _maxGradNorm;
    private readonly double[] _multipliers = [1.0];

    public Optimization(IEnumerable<Parameter> parameters, TrainOptions options, long totalSteps)
    {
        _parameters = parameters.Where(p => p.requires_grad).ToList();
        if (_parameters.Count == 0) throw new ArgumentException("no trainable parameters", nameof(parameters));
        _optimizer = new AdamW([new AdamW.Group(_parameters, options.LearningRate, options.WeightDecay)]);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, totalSteps);
        _maxGradNorm = options.MaxGradNorm;
    }

    /// <summary>As above, with <paramref name="boosted"/> (a subset of the parameters, e.g. a freshly initialised router
    /// that has to move much further than pretrained weights in a short fine-tune) in a second AdamW group whose
    /// learning rate is always <paramref name="multiplier"/> times the scheduled one.</summary>
    public Optimization(IEnumerable<Parameter> parameters, TrainOptions options, long totalSteps,
        IReadOnlyCollection<Parameter> boosted, double multiplier)
    {
        if (multiplier <= 0 || !double.IsFinite(multiplier))
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "the learning-rate multiplier must be positive");
        _parameters = parameters.Where(p => p.requires_grad).ToList();
        if (_parameters.Count == 0) throw new ArgumentException("no trainable parameters", nameof(parameters));
        var handles = boosted.Select(p => p.Handle).ToHashSet();
        var rest = _parameters.Where(p => !handles.Contains(p.Handle)).ToList();
        var special = _parameters.Where(p => handles.Contains(p.Handle)).ToList();
        if (special.Count != boosted.Count)
            throw new ArgumentException("every boosted parameter must be one of the trainable parameters", nameof(boosted));
        var groups = new List<AdamW.Group>();
        var multipliers = new List<double>();
        if (rest.Count > 0) { groups.Add(new AdamW.Group(rest, options.LearningRate, options.WeightDecay)); multipliers.Add(1.0); }
        if (special.Count > 0) { groups.Add(new AdamW.Group(special, options.LearningRate * multiplier, options.WeightDecay)); multipliers.Add(multiplier); }
        _optimizer = new AdamW(groups);
        _multipliers = [.. multipliers];
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, totalSteps);
        _maxGradNorm = options.MaxGradNorm;
    }

    /// <summary>The learning rate of each parameter group at the last step (the first group: the scheduled rate).</summary>
    public IReadOnlyList<double> GroupLearningRates => _optimizer.Groups.Select(g => g.LearningRate).ToList();

    public long StepsTaken { get; private set; }

    /// <summary>Writes the optimiser's state to <paramref name="stream"/>: AdamW's step count and first and second
    /// moments of every parameter (<see cref="AdamW.Save"/>), <see cref="StepsTaken"/>,
    /// which places the learning-rate schedule, and which parameters hold a gradient tensor: AdamW skips a parameter
    /// without one (an MoE expert no token has reached yet), while one whose gradient was only zeroed is still
    /// decayed and moved by its moments.</summary>
    public void SaveState(Stream stream)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        _optimizer.Save(writer);
        writer.Write(StepsTaken);
        writer.Write(_parameters.Count);
        foreach (var parameter in _parameters)
        {
            using var grad = parameter.grad;
            writer.Write(grad is not null);
        }
    }

    /// <summary>Loads what <see cref="SaveState"/> wrote, into an optimiser made for the same parameters in the same
    /// order, and gives a (zero) gradient tensor to the parameters that held one; afterwards the next
    /// <see cref="Step"/> is exactly the one that would have followed.</summary>
    public void LoadState(Stream stream)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        _optimizer.Load(reader);
        StepsTaken = reader.ReadInt64();
        int count = reader.ReadInt32();
        if (count != _parameters.Count)
            throw new InvalidDataException($"optimiser state: {count} parameters, this optimiser has {_parameters.Count}");
        var withGrad = new List<Parameter>();
        foreach (var parameter in _parameters)
        {
            using var grad = parameter.grad;
            if (reader.ReadBoolean() && grad is null) withGrad.Add(parameter);
        }
        if (stream.CanSeek && stream.Position != stream.Length)
            throw new InvalidDataException($"optimiser state: {stream.Length - stream.Position} byte(s) after its end");
        if (withGrad.Count == 0) return;
        using var scope = NewDisposeScope();
        using var enabled = enable_grad();
        stack(withGrad.Select(p => p.sum()).ToArray()).sum().mul(Scalars.Zero).backward();   // d(0 * sum p)/dp = 0
    }

    /// <summary>Back-propagates <paramref name="loss"/> and applies one update; returns the learning rate used.</summary>
    public double Step(Tensor loss)
    {
        double lr = _schedule.At(StepsTaken);
        int g = 0;
        foreach (var group in _optimizer.Groups) group.LearningRate = lr * _multipliers[Math.Min(g++, _multipliers.Length - 1)];
        _optimizer.ZeroGrad();
        loss.backward();
        if (_maxGradNorm > 0) nn.utils.clip_grad_norm_(_parameters, _maxGradNorm);
        _optimizer.Step();
        StepsTaken++;
        return lr;
    }

    public void Dispose() => _optimizer.Dispose();
}
