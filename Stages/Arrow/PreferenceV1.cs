using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary><c>preference/v1</c> (teacher -> trainer, cache): sample_id utf8, image fixed_size_binary(H*W*3),
/// prompt_ids list&lt;int32&gt;, chosen_ids list&lt;int32&gt;, rejected_ids list&lt;int32&gt;, ref_chosen_logp float64,
/// ref_rejected_logp float64 (the teacher = reference model, summed over the response tokens), source utf8
/// (<see cref="PreferenceSources"/>), judge utf8 (why chosen beats rejected). Metadata: distill.teacher_fingerprint,
/// distill.tokenizer_hash.</summary>
public static class PreferenceV1
{
    public const string SchemaName = "preference/v1";
    public const string ChosenIds = "chosen_ids", RejectedIds = "rejected_ids",
        RefChosenLogp = "ref_chosen_logp", RefRejectedLogp = "ref_rejected_logp";
    public const string FingerprintKey = TeacherV2.FingerprintKey, TokenizerHashKey = TeacherV2.TokenizerHashKey;

    public static Schema Schema(PreferenceBatchMeta meta, int imageBytes)
    {
        ValidateMeta(meta);
        var b = new Schema.Builder();
        foreach (var f in PairColumns.Leading(imageBytes)) b.Field(f);
        b.Field(new Field(ChosenIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false))
         .Field(new Field(RejectedIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false))
         .Field(new Field(RefChosenLogp, DoubleType.Default, nullable: false))
         .Field(new Field(RefRejectedLogp, DoubleType.Default, nullable: false));
        foreach (var f in PairColumns.Trailing(judgeNullable: false)) b.Field(f);
        return b.Metadata(ArrowContract.SchemaKey, SchemaName)
            .Metadata(FingerprintKey, meta.TeacherFingerprint)
            .Metadata(TokenizerHashKey, meta.TokenizerHash)
            .Build();
    }

    public static byte[] Write(IReadOnlyList<PreferenceRow> rows, PreferenceBatchMeta meta, int imageBytes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (imageBytes <= 0) throw new ArgumentOutOfRangeException(nameof(imageBytes), imageBytes, "must be > 0");
        var schema = Schema(meta, imageBytes);
        for (int i = 0; i < rows.Count; i++) Check(i, rows[i], imageBytes, msg => new ArgumentException(msg));
        IArrowArray[] arrays =
        [
            ArrowColumns.Utf8(rows.Select(r => r.SampleId)),
            ArrowColumns.FixedBinary(rows.Select(r => r.Image).ToList(), imageBytes),
            ArrowColumns.Int32Lists(rows.Select(r => r.PromptIds).ToList()),
            ArrowColumns.Int32Lists(rows.Select(r => r.ChosenIds).ToList()),
            ArrowColumns.Int32Lists(rows.Select(r => r.RejectedIds).ToList()),
            ArrowColumns.Float64(rows.Select(r => r.RefChosenLogp)),
            ArrowColumns.Float64(rows.Select(r => r.RefRejectedLogp)),
            ArrowColumns.Utf8(rows.Select(r => r.Source)),
            ArrowColumns.Utf8(rows.Select(r => r.Judge)),
        ];
        return ArrowIpc.Write(schema, arrays, rows.Count);
    }

    public static (IReadOnlyList<PreferenceRow> Rows, PreferenceBatchMeta Meta, int ImageBytes) Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            PairColumns.RequireColumns(schema, SchemaName);
            ArrowContract.RequireColumn(schema, ChosenIds, ArrowTypeId.List, SchemaName, ArrowTypeId.Int32);
            ArrowContract.RequireColumn(schema, RejectedIds, ArrowTypeId.List, SchemaName, ArrowTypeId.Int32);
            ArrowContract.RequireColumn(schema, RefChosenLogp, ArrowTypeId.Double, SchemaName);
            ArrowContract.RequireColumn(schema, RefRejectedLogp, ArrowTypeId.Double, SchemaName);
            var meta = new PreferenceBatchMeta(
                ArrowContract.RequireMetadata(schema, FingerprintKey, SchemaName),
                ArrowContract.RequireMetadata(schema, TokenizerHashKey, SchemaName));
            int imageBytes = PairColumns.ImageBytes(schema);
            var rows = PairColumns.ReadRows<PreferenceRow>(batches, SchemaName, (batch, shared) =>
            {
                var chosen = (ListArray)batch.Column(ChosenIds);
                var rejected = (ListArray)batch.Column(RejectedIds);
                var refChosen = (DoubleArray)batch.Column(RefChosenLogp);
                var refRejected = (DoubleArray)batch.Column(RefRejectedLogp);
                return i =>
                {
                    string id = shared.Id(i);
                    if (chosen.IsNull(i) || rejected.IsNull(i) || refChosen.IsNull(i) || refRejected.IsNull(i))
                        throw new InvalidDataException($"{SchemaName}: sample '{id}' has a null in a non-nullable column");
                    return new PreferenceRow(id, shared.ImageOf(i), shared.Prompt(i), ArrowColumns.Int32List(chosen, i),
                        ArrowColumns.Int32List(rejected, i), refChosen.GetValue(i)!.Value, refRejected.GetValue(i)!.Value,
                        shared.SourceOf(i), shared.JudgeOf(i) ?? throw new InvalidDataException($"{SchemaName}: sample '{id}' has a null judge"));
                };
            }, (index, row) => Check(index, row, imageBytes, msg => new InvalidDataException(msg)));
            return (rows, meta, imageBytes);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    private static void ValidateMeta(PreferenceBatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (string.IsNullOrEmpty(meta.TeacherFingerprint)) throw new ArgumentException($"{SchemaName}: TeacherFingerprint is empty");
        if (string.IsNullOrEmpty(meta.TokenizerHash)) throw new ArgumentException($"{SchemaName}: TokenizerHash is empty");
    }

    /// <summary>Non-empty, different responses; finite reference log-probs (a NaN would be an unscored pair); a judge.</summary>
    private static void Check(int index, PreferenceRow? r, int imageBytes, Func<string, Exception> error)
    {
        if (r is null) throw error($"{SchemaName}: row {index} is null");
        PairColumns.Check(index, r.SampleId, r.Image, r.PromptIds, r.Source, imageBytes, SchemaName, error);
        if (r.ChosenIds is null || r.ChosenIds.Length == 0 || r.RejectedIds is null || r.RejectedIds.Length == 0)
            throw error($"{SchemaName}: sample '{r.SampleId}' has an empty chosen or rejected response");
        if (r.ChosenIds.AsSpan().SequenceEqual(r.RejectedIds))
            throw error($"{SchemaName}: sample '{r.SampleId}' has the same chosen and rejected response");
        if (!double.IsFinite(r.RefChosenLogp) || !double.IsFinite(r.RefRejectedLogp))
            throw error($"{SchemaName}: sample '{r.SampleId}' has reference log-probs {r.RefChosenLogp}, {r.RefRejectedLogp}; both must be finite (scored by the teacher)");
        if (string.IsNullOrEmpty(r.Judge)) throw error($"{SchemaName}: sample '{r.SampleId}' has no judge");
    }
}
