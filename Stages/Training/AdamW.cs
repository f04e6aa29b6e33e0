using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>AdamW (Loshchilov and Hutter, decoupled weight decay), the arithmetic of <c>torch.optim.AdamW</c> without
/// amsgrad, per parameter with a gradient tensor:
/// <c>p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)</c>, with t the parameter's own step count. A parameter
/// without a gradient tensor (an MoE expert no token has reached yet) is skipped and its t does not advance; one
/// whose gradient was only zeroed is still decayed and moved by its moments. Unlike TorchSharp's AdamW, every
/// number reaches libtorch as a Scalar that outlives the call (see <see cref="Scalars"/>).
/// <para>A parameter in a reduced-precision dtype (bfloat16, float16) gets a float32 master copy: the moments and the
/// update are computed on the master from the float32-cast gradient and the parameter is the master rounded to its
/// dtype after each step, so updates smaller than a bfloat16 step (lr 1e-4 on a weight of 1 is below bfloat16's
/// 2^-8 resolution) accumulate instead of being rounded away. The master copies are saved with the moments.</para></summary>
public sealed class AdamW : IDisposable
{
    private const string Format = "distill-adamw/v2";

    private readonly List<Group> _groups;
    private readonly Dictionary<IntPtr, Moments> _moments = new(); // by parameter handle
    private readonly double _beta1, _beta2, _eps;
    private bool _disposed;

    /// <summary>One parameter group: its parameters, learning rate (set before each step) and weight decay.</summary>
    public sealed class Group(IReadOnlyList<Parameter> parameters, double learningRate, double weightDecay)
    {
        public IReadOnlyList<Parameter> Parameters { get; } = parameters;
        public double LearningRate { get; set; } = learningRate;
        public double WeightDecay { get; } = weightDecay;
    }

    private sealed class Moments(Tensor first, Tensor second, Tensor? master) : IDisposable
    {
        public long Steps;
        public Tensor First { get; } = first;   // m, float32 when there is a master
        public Tensor Second { get; } = second; // v
        public Tensor? Master { get; } = master; // float32 copy of a reduced-precision parameter, else null

        public void Dispose()
        {
            First.Dispose();
            Second.Dispose();
            Master?.Dispose();
        }
    }

    /// <summary>True for the dtypes whose parameters are updated through a float32 master copy.</summary>
    public static bool NeedsMaster(ScalarType dtype) => dtype is ScalarType.BFloat16 or ScalarType.Float16;

    private static Moments NewMoments(Parameter parameter)
    {
        if (!NeedsMaster(parameter.dtype))
            return new Moments(zeros_like(parameter).DetachFromDisposeScope(), zeros_like(parameter).DetachFromDisposeScope(), null);
        using var detached = parameter.detach();
        var master = detached.to_type(ScalarType.Float32).DetachFromDisposeScope();
        return new Moments(zeros_like(master).DetachFromDisposeScope(), zeros_like(master).DetachFromDisposeScope(), master);
    }

    public AdamW(IEnumerable<Group> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        _groups = groups.ToList();
        if (_groups.Count == 0) throw new ArgumentException("AdamW needs at least one parameter group", nameof(groups));
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1 || !(eps > 0))
            throw new ArgumentOutOfRangeException(nameof(beta1), $"AdamW needs 0 <= betas < 1 and eps > 0, got {beta1}, {beta2}, {eps}");
        (_beta1, _beta2, _eps) = (beta1, beta2, eps);
        using var noGrad = no_grad();
        foreach (var parameter in _groups.SelectMany(g => g.Parameters))
        {
            if (_moments.ContainsKey(parameter.Handle)) throw new ArgumentException("a parameter is in two AdamW groups", nameof(groups));
            _moments[parameter.Handle] = NewMoments(parameter);
        }
    }

    public IReadOnlyList<Group> Groups => _groups;

    /// <summary>Zeroes every gradient tensor that exists (the tensors stay, so those parameters keep being updated).</summary>
    public void ZeroGrad()
    {
        ThrowIfDisposed();
        foreach (var parameter in _groups.SelectMany(g => g.Parameters))
        {
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient tensor, with each group's current learning rate.</summary>
    public void Step()
    {
        ThrowIfDisposed();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var beta1 = _beta1.ToScalar();
        using var beta2 = _beta2.ToScalar();
        using var rest1 = (1 - _beta1).ToScalar();
        using var rest2 = (1 - _beta2).ToScalar();
        using var eps = _eps.ToScalar();
        foreach (var group in _groups)
        {
            using var decay = (1 - group.LearningRate * group.WeightDecay).ToScalar();
            foreach (var parameter in group.Parameters)
            {
                var grad = parameter.grad;
                if (grad is null) continue;
                var state = _moments[parameter.Handle];
                var target = state.Master ?? parameter;
                if (state.Master is not null) grad = grad.to_type(ScalarType.Float32);
                state.Steps++;
                double correction1 = 1 - Math.Pow(_beta1, state.Steps), correction2 = 1 - Math.Pow(_beta2, state.Steps);
                using var rootCorrection2 = Math.Sqrt(correction2).ToScalar();
                using var stepSize = (-group.LearningRate / correction1).ToScalar();
                target.mul_(decay);
                state.First.mul_(beta1).add_(grad, rest1);
                state.Second.mul_(beta2).addcmul_(grad, grad, rest2);
                var denominator = state.Second.sqrt().div_(rootCorrection2).add_(eps, Scalars.One);
                target.addcdiv_(state.First, denominator, stepSize);
                if (state.Master is not null) parameter.copy_(state.Master);
            }
        }
    }

    /// <summary>Writes every parameter's step count, moments and master copy (when it has one), in group and parameter
    /// order.</summary>
    public void Save(BinaryWriter writer)
    {
        ThrowIfDisposed();
        writer.Write(Format);
        writer.Write(_moments.Count);
        foreach (var parameter in _groups.SelectMany(g => g.Parameters))
        {
            var state = _moments[parameter.Handle];
            writer.Write(state.Steps);
            state.First.Save(writer);
            state.Second.Save(writer);
            writer.Write(state.Master is not null);
            state.Master?.Save(writer);
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote for the same parameters (count, order, shapes, dtypes).</summary>
    public void Load(BinaryReader reader)
    {
        ThrowIfDisposed();
        string format;
        try
        {
            format = reader.ReadString();
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException)
        {
            throw new InvalidDataException($"optimiser state: not a {Format} file ({e.Message})", e);
        }
        if (format != Format) throw new InvalidDataException($"optimiser state: format '{format}', expected {Format}");
        var count = reader.ReadInt32();
        if (count != _moments.Count)
            throw new InvalidDataException($"optimiser state: {count} parameters, this optimiser has {_moments.Count}");
        using var noGrad = no_grad();
        foreach (var parameter in _groups.SelectMany(g => g.Parameters))
        {
            var state = _moments[parameter.Handle];
            state.Steps = reader.ReadInt64();
            if (state.Steps < 0) throw new InvalidDataException($"optimiser state: negative step count {state.Steps}");
            state.First.Load(reader);
            state.Second.Load(reader);
            var hasMaster = reader.ReadBoolean();
            if (hasMaster != (state.Master is not null))
                throw new InvalidDataException(
                    $"optimiser state: a parameter {(hasMaster ? "has" : "has no")} float32 master copy in the file, but is {parameter.dtype} here (was the run's distill.dtype changed?)");
            state.Master?.Load(reader);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var moments in _moments.Values) moments.Dispose();
        _moments.Clear();
    }
}
