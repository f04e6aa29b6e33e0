using Distill.Stages.Arrow;

namespace Distill.Stages.Workspace;

/// <summary>A list of rows seen through a per-row projection, applied when a row is read (a real dataset's rows
/// decode their image on read, so nothing is materialised here).</summary>
internal sealed class ProjectedRows(IReadOnlyList<SampleRow> rows, Func<SampleRow, int, SampleRow> project) : IReadOnlyList<SampleRow>
{
    public SampleRow this[int index] => project(rows[index], index);

    public int Count => rows.Count;

    public IEnumerator<SampleRow> GetEnumerator()
    {
        for (int i = 0; i < rows.Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
