using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>Builds Arrow arrays from .NET values and reads them back (copying out of the IPC buffers).</summary>
internal static class ArrowColumns
{
    public static StringArray Utf8(IEnumerable<string?> values)
    {
        var b = new StringArray.Builder();
        foreach (var v in values)
            if (v is null) b.AppendNull(); else b.Append(v);
        return b.Build();
    }

    public static FixedSizeBinaryArray FixedBinary(IReadOnlyList<byte[]> values, int width)
    {
        var all = new byte[(long)values.Count * width];
        for (int i = 0; i < values.Count; i++) values[i].CopyTo(all, (long)i * width);
        var data = new ArrayData(new FixedSizeBinaryType(width), values.Count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(all)]);
        return new FixedSizeBinaryArray(data);
    }

    public static ListArray Int32Lists(IReadOnlyList<int[]> lists) =>
        List(lists, Int32Type.Default, flat => new Int32Array.Builder().Append(flat).Build());

    public static ListArray FloatLists(IReadOnlyList<float[]> lists) =>
        List(lists, FloatType.Default, flat => new FloatArray.Builder().Append(flat).Build());

    public static ListArray HalfLists(IReadOnlyList<Half[]> lists) =>
        List(lists, HalfFloatType.Default, flat => new HalfFloatArray.Builder().Append(flat).Build());

    public static ListArray BoolLists(IReadOnlyList<bool[]> lists) =>
        List(lists, BooleanType.Default, flat =>
        {
            var b = new BooleanArray.Builder();
            foreach (bool v in flat) b.Append(v);
            return b.Build();
        });

    public static DoubleArray Float64(IEnumerable<double> values) => new DoubleArray.Builder().AppendRange(values).Build();

    /// <summary>list&lt;list&lt;int32&gt;&gt;: per row, a list of int32 lists (e.g. several responses to one prompt).</summary>
    public static ListArray Int32ListLists(IReadOnlyList<int[][]> rows)
    {
        var offsets = new int[rows.Count + 1];
        for (int i = 0; i < rows.Count; i++) offsets[i + 1] = checked(offsets[i] + rows[i].Length);
        var inner = Int32Lists(rows.SelectMany(r => r).ToList());
        var offsetBuffer = new ArrowBuffer(MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray());
        return new ListArray(ListOf(ListOf(Int32Type.Default)), rows.Count, offsetBuffer, inner, ArrowBuffer.Empty, 0, 0);
    }

    public static ListType ListOf(IArrowType element) => new(new Field("item", element, nullable: false));

    private delegate IArrowArray ValuesOf<T>(ReadOnlySpan<T> flat);

    private static ListArray List<T>(IReadOnlyList<T[]> lists, IArrowType element, ValuesOf<T> build)
    {
        var offsets = new int[lists.Count + 1];
        for (int i = 0; i < lists.Count; i++) offsets[i + 1] = checked(offsets[i] + lists[i].Length);
        var flat = new T[offsets[^1]];
        for (int i = 0; i < lists.Count; i++) lists[i].CopyTo(flat, offsets[i]);
        var offsetBuffer = new ArrowBuffer(MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray());
        return new ListArray(ListOf(element), lists.Count, offsetBuffer, build(flat), ArrowBuffer.Empty, 0, 0);
    }

    public static int[] Int32List(ListArray list, int row) => Slice<int>(list, row, ((Int32Array)list.Values).Values);
    public static float[] FloatList(ListArray list, int row) => Slice<float>(list, row, ((FloatArray)list.Values).Values);
    public static Half[] HalfList(ListArray list, int row) => Slice<Half>(list, row, ((HalfFloatArray)list.Values).Values);

    public static int[][] Int32ListList(ListArray list, int row)
    {
        var inner = (ListArray)list.Values;
        int start = list.ValueOffsets[row], n = list.GetValueLength(row);
        var result = new int[n][];
        for (int i = 0; i < n; i++) result[i] = Int32List(inner, start + i);
        return result;
    }

    public static bool[] BoolList(ListArray list, int row)
    {
        var values = (BooleanArray)list.Values;
        int start = list.ValueOffsets[row], n = list.GetValueLength(row);
        var result = new bool[n];
        for (int i = 0; i < n; i++)
            result[i] = values.GetValue(start + i) ?? throw new InvalidDataException("null inside a list<bool>");
        return result;
    }

    private static T[] Slice<T>(ListArray list, int row, ReadOnlySpan<T> values) =>
        values.Slice(list.ValueOffsets[row], list.GetValueLength(row)).ToArray();
}
