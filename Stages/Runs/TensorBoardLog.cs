using TorchSharp.Modules;
using static TorchSharp.torch.utils.tensorboard;

namespace Distill.Stages.Runs;

/// <summary>Metric rows as TensorBoard scalars (TorchSharp's <see cref="SummaryWriter"/>): one event file per process in
/// <see cref="Dir"/>, the tag <c>stage/phase/metric</c> (TensorBoard groups the charts by stage), the row's step and
/// time. Each event is written and flushed at once, so TensorBoard reads a run while it runs. NaN and infinite values
/// are left out (a progress line without a loss). Not thread-safe: <see cref="MetricsLog"/> calls it under its lock.</summary>
public sealed class TensorBoardLog
{
    private readonly SummaryWriter _writer;

    public TensorBoardLog(string dir)
    {
        Dir = System.IO.Path.GetFullPath(dir);
        Directory.CreateDirectory(Dir);
        _writer = SummaryWriter(Dir);
    }

    public string Dir { get; }

    public static string Tag(string stage, string phase, string metric) =>
        string.Join('/', new[] { stage, phase, metric }.Select(part => part.Replace('/', '_').Replace(' ', '_')));

    public void Append(DateTimeOffset time, string stage, string phase, long step, string metric, double value)
    {
        if (!double.IsFinite(value)) return;
        _writer.add_scalar(Tag(stage, phase, metric), (float)value, (int)Math.Clamp(step, int.MinValue, int.MaxValue), time.ToUnixTimeSeconds());
    }
}
