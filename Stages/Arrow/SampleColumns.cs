using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>The <c>samples/v1</c> columns, which <c>teacher/v2</c> repeats first: fields, arrays and row reading.</summary>
internal static class SampleColumns
{
    public const string SampleId = "sample_id", Image = "image", InputIds = "input_ids", LabelsMask = "labels_mask",
        Task = "task", Answer = "answer";

    public static IEnumerable<Field> Fields(int imageBytes) =>
    [
        new Field(SampleId, StringType.Default, nullable: false),
        new Field(Image, new FixedSizeBinaryType(imageBytes), nullable: false),
        new Field(InputIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false),
        new Field(LabelsMask, ArrowColumns.ListOf(BooleanType.Default), nullable: false),
        new Field(Task, StringType.Default, nullable: false),
        new Field(Answer, StringType.Default, nullable: true),
    ];

    /// <summary>Checks every row, naming the sample id on a bad one.</summary>
    public static void Validate(IReadOnlyList<SampleRow> rows, int imageBytes, string contract)
    {
        if (imageBytes <= 0) throw new ArgumentOutOfRangeException(nameof(imageBytes), imageBytes, "must be > 0");
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i] ?? throw new ArgumentException($"{contract}: row {i} is null");
            if (string.IsNullOrEmpty(r.SampleId)) throw new ArgumentException($"{contract}: row {i} has no sample_id");
            if (r.Image is null || r.Image.Length != imageBytes)
                throw new ArgumentException($"{contract}: sample '{r.SampleId}' image has {r.Image?.Length ?? 0} bytes, expected {imageBytes}");
            if (r.InputIds is null || r.LabelsMask is null || r.InputIds.Length != r.LabelsMask.Length)
                throw new ArgumentException(
                    $"{contract}: sample '{r.SampleId}' has {r.InputIds?.Length ?? 0} input_ids but {r.LabelsMask?.Length ?? 0} labels_mask values");
            if (r.Task is null) throw new ArgumentException($"{contract}: sample '{r.SampleId}' has no task");
        }
    }

    public static IEnumerable<IArrowArray> Arrays(IReadOnlyList<SampleRow> rows, int imageBytes) =>
    [
        ArrowColumns.Utf8(rows.Select(r => r.SampleId)),
        ArrowColumns.FixedBinary(rows.Select(r => r.Image).ToList(), imageBytes),
        ArrowColumns.Int32Lists(rows.Select(r => r.InputIds).ToList()),
        ArrowColumns.BoolLists(rows.Select(r => r.LabelsMask).ToList()),
        ArrowColumns.Utf8(rows.Select(r => r.Task)),
        ArrowColumns.Utf8(rows.Select(r => r.Answer)),
    ];

    /// <summary>Checks that the schema has the sample columns with their types.</summary>
    public static void RequireColumns(Schema schema, string contract)
    {
        ArrowContract.RequireColumn(schema, SampleId, ArrowTypeId.String, contract);
        ArrowContract.RequireColumn(schema, Image, ArrowTypeId.FixedSizedBinary, contract);
        ArrowContract.RequireColumn(schema, InputIds, ArrowTypeId.List, contract, ArrowTypeId.Int32);
        ArrowContract.RequireColumn(schema, LabelsMask, ArrowTypeId.List, contract, ArrowTypeId.Boolean);
        ArrowContract.RequireColumn(schema, Task, ArrowTypeId.String, contract);
        ArrowContract.RequireColumn(schema, Answer, ArrowTypeId.String, contract);
    }

    public static List<SampleRow> ReadRows(RecordBatch batch, string contract)
    {
        var ids = (StringArray)batch.Column(SampleId);
        var images = (FixedSizeBinaryArray)batch.Column(Image);
        var inputIds = (ListArray)batch.Column(InputIds);
        var masks = (ListArray)batch.Column(LabelsMask);
        var tasks = (StringArray)batch.Column(Task);
        var answers = (StringArray)batch.Column(Answer);
        var rows = new List<SampleRow>(batch.Length);
        for (int i = 0; i < batch.Length; i++)
        {
            if (ids.IsNull(i)) throw new InvalidDataException($"{contract}: row {i} has a null sample_id");
            string id = ids.GetString(i);
            if (images.IsNull(i) || inputIds.IsNull(i) || masks.IsNull(i) || tasks.IsNull(i))
                throw new InvalidDataException($"{contract}: sample '{id}' has a null in a non-nullable column");
            var row = new SampleRow(id, images.GetBytes(i).ToArray(), ArrowColumns.Int32List(inputIds, i),
                ArrowColumns.BoolList(masks, i), tasks.GetString(i), answers.IsNull(i) ? null : answers.GetString(i));
            if (row.InputIds.Length != row.LabelsMask.Length)
                throw new InvalidDataException(
                    $"{contract}: sample '{id}' has {row.InputIds.Length} input_ids but {row.LabelsMask.Length} labels_mask values");
            rows.Add(row);
        }
        return rows;
    }
}
