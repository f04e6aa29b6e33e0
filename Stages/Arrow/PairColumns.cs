using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>The columns that <c>candidates/v1</c> and <c>preference/v1</c> share: sample_id, image and prompt_ids
/// first, source and judge last; fields, checks and reading.</summary>
internal static class PairColumns
{
    public const string SampleId = "sample_id", Image = "image", PromptIds = "prompt_ids", Source = "source", Judge = "judge";

    public static IEnumerable<Field> Leading(int imageBytes) =>
    [
        new Field(SampleId, StringType.Default, nullable: false),
        new Field(Image, new FixedSizeBinaryType(imageBytes), nullable: false),
        new Field(PromptIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false),
    ];

    public static IEnumerable<Field> Trailing(bool judgeNullable) =>
    [
        new Field(Source, StringType.Default, nullable: false),
        new Field(Judge, StringType.Default, nullable: judgeNullable),
    ];

    /// <summary>Checks the shared values of one row; <paramref name="error"/> builds the exception (argument errors on
    /// write, data errors on read). Messages name the contract and the sample id (or the row number without one).</summary>
    public static void Check(int row, string? sampleId, byte[]? image, int[]? promptIds, string? source, int imageBytes,
        string contract, Func<string, Exception> error)
    {
        if (string.IsNullOrEmpty(sampleId)) throw error($"{contract}: row {row} has no sample_id");
        if (image is null || image.Length != imageBytes)
            throw error($"{contract}: sample '{sampleId}' image has {image?.Length ?? 0} bytes, expected {imageBytes}");
        if (promptIds is null || promptIds.Length == 0) throw error($"{contract}: sample '{sampleId}' has an empty prompt");
        if (source is null || !PreferenceSources.All.Contains(source))
            throw error($"{contract}: sample '{sampleId}' has source '{source}', expected one of {string.Join(", ", PreferenceSources.All)}");
    }

    public static void RequireColumns(Schema schema, string contract)
    {
        ArrowContract.RequireColumn(schema, SampleId, ArrowTypeId.String, contract);
        ArrowContract.RequireColumn(schema, Image, ArrowTypeId.FixedSizedBinary, contract);
        ArrowContract.RequireColumn(schema, PromptIds, ArrowTypeId.List, contract, ArrowTypeId.Int32);
        ArrowContract.RequireColumn(schema, Source, ArrowTypeId.String, contract);
        ArrowContract.RequireColumn(schema, Judge, ArrowTypeId.String, contract);
    }

    /// <summary>The image width in bytes of a stream's schema (its fixed-size-binary column).</summary>
    public static int ImageBytes(Schema schema) => ((FixedSizeBinaryType)schema.GetFieldByName(Image).DataType).ByteWidth;

    /// <summary>The rows of every batch of a pair contract, in order: <paramref name="rowsOf"/> binds a batch's own
    /// columns and returns the row maker for that batch; every row goes through <paramref name="check"/> (with its index
    /// in the stream) before it is kept.</summary>
    public static List<TRow> ReadRows<TRow>(IEnumerable<RecordBatch> batches, string contract,
        Func<RecordBatch, Reader, Func<int, TRow>> rowsOf, Action<int, TRow> check)
    {
        var rows = new List<TRow>();
        foreach (var batch in batches)
        {
            var rowAt = rowsOf(batch, new Reader(batch, contract));
            for (int i = 0; i < batch.Length; i++)
            {
                var row = rowAt(i);
                check(rows.Count, row);
                rows.Add(row);
            }
        }
        return rows;
    }

    /// <summary>The shared columns of one batch, for reading row by row.</summary>
    public sealed class Reader(RecordBatch batch, string contract)
    {
        private readonly StringArray _ids = (StringArray)batch.Column(SampleId);
        private readonly FixedSizeBinaryArray _images = (FixedSizeBinaryArray)batch.Column(Image);
        private readonly ListArray _prompts = (ListArray)batch.Column(PromptIds);
        private readonly StringArray _sources = (StringArray)batch.Column(Source);
        private readonly StringArray _judges = (StringArray)batch.Column(Judge);

        public string Id(int row) => _ids.IsNull(row)
            ? throw new InvalidDataException($"{contract}: row {row} has a null sample_id")
            : _ids.GetString(row);

        public byte[] ImageOf(int row) => NotNull(_images, row, Image).GetBytes(row).ToArray();
        public int[] Prompt(int row) => ArrowColumns.Int32List(NotNull(_prompts, row, PromptIds), row);
        public string SourceOf(int row) => NotNull(_sources, row, Source).GetString(row);
        public string? JudgeOf(int row) => _judges.IsNull(row) ? null : _judges.GetString(row);

        private T NotNull<T>(T array, int row, string column) where T : IArrowArray => array.IsNull(row)
            ? throw new InvalidDataException($"{contract}: sample '{Id(row)}' has a null {column}")
            : array;
    }
}
