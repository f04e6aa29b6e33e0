using Distill.Stages.Flow;

namespace Distill.Actors.Messages;

/// <summary>Copies collection values into messages as plain arrays and dictionaries, whatever implementation the
/// caller handed in (a collection expression, an immutable or frozen dictionary), so every serializer can
/// rebuild them on the other side.</summary>
internal static class MessageValues
{
    public static IReadOnlyList<T> Portable<T>(IReadOnlyList<T>? items) =>
        items is null ? [] : items as T[] ?? items.ToArray();

    public static StageOutcome Portable(StageOutcome? outcome) =>
        outcome is null ? StageOutcome.Empty
        : outcome.Figures is Dictionary<string, double> ? outcome
        : outcome with { Figures = new Dictionary<string, double>(outcome.Figures ?? new Dictionary<string, double>()) };
}
