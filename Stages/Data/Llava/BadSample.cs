namespace Distill.Stages.Data.Llava;

/// <summary>A sample that was skipped: the file, the sample (its id, or <c>#index</c> / <c>line N</c> when it has no
/// usable id) and why. <see cref="ToString"/> is the one line the run reports for it.</summary>
public sealed record BadSample(string File, string Sample, string Reason)
{
    public override string ToString() => $"{File}: sample {Sample}: {Reason}";
}

/// <summary>A bad sample met under <c>distill.data.strict = true</c>, or too many of them
/// (<see cref="BadSampleBudget"/>): the run stops with this.</summary>
public sealed class BadDataException(string message) : IOException(message);
