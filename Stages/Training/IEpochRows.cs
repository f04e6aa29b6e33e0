namespace Distill.Stages.Training;

/// <summary>The training rows of a phase, delivered once per epoch in a seeded order. <see cref="EpochRows.InMemory{T}"/>
/// holds them all (a full shuffle); <see cref="ShardWindowRows{T}"/> reads them from disk a window of shards at a
/// time, so a phase's memory does not grow with the data.</summary>
public interface IEpochRows<out T>
{
    /// <summary>Rows per epoch.</summary>
    int Count { get; }

    /// <summary>Every row once, in the order of <paramref name="seed"/> (the same seed gives the same order).</summary>
    IEnumerable<T> InOrder(int seed);
}

/// <summary>Row sources.</summary>
public static class EpochRows
{
    /// <summary>Rows held in memory, each epoch a full Fisher-Yates shuffle of them.</summary>
    public static IEpochRows<T> InMemory<T>(IReadOnlyList<T> rows) => new Memory<T>(rows);

    private sealed class Memory<T>(IReadOnlyList<T> rows) : IEpochRows<T>
    {
        public int Count => rows.Count;
        public IEnumerable<T> InOrder(int seed) => TeacherPretraining.Shuffled(rows, seed);
    }
}
