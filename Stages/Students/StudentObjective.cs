using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>What a student learns from rows of type <typeparamref name="T"/>: the scalar loss of one batch (forward
/// included) and, optionally, held-out metrics measured before training and after every epoch (the first metric is
/// the one progress shows).</summary>
public sealed record StudentObjective<T>(
    Func<Student, IReadOnlyList<T>, Tensor> Loss,
    Func<Student, IReadOnlyList<(string Metric, double Value)>>? HeldOut);
