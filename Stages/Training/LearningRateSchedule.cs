namespace Distill.Stages.Training;

/// <summary>Linear warm-up to the peak rate over <c>warmup</c> steps, then cosine decay to 10% of it.</summary>
public sealed class LearningRateSchedule
{
    private readonly double _peak;
    private readonly int _warmup;
    private readonly long _total;

    public LearningRateSchedule(double peak, int warmupSteps, long totalSteps)
    {
        if (peak <= 0) throw new ArgumentOutOfRangeException(nameof(peak), peak, "learning rate must be positive");
        _peak = peak;
        _warmup = Math.Max(0, warmupSteps);
        _total = Math.Max(1, totalSteps);
    }

    /// <summary>Learning rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < _warmup) return _peak * (step + 1) / _warmup;
        double progress = Math.Clamp((double)(step - _warmup) / Math.Max(1, _total - _warmup), 0, 1);
        double floor = 0.1 * _peak;
        return floor + (_peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
