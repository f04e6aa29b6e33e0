using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary><c>teacher/v1</c> (teacher -> trainer, cache): the <c>samples/v1</c> columns plus topk_ids list&lt;int32&gt;,
/// topk_logprobs list&lt;float16&gt; (both positions*K long) and tail_logprob list&lt;float32&gt; (positions long).
/// Metadata: distill.teacher_fingerprint, distill.top_k, distill.vocab_size, distill.tokenizer_hash, distill.scope.</summary>
public static class TeacherV1
{
    public const string SchemaName = "teacher/v1";
    public const string TopkIds = "topk_ids", TopkLogprobs = "topk_logprobs", TailLogprob = "tail_logprob";
    public const string FingerprintKey = "distill.teacher_fingerprint", TopKKey = "distill.top_k", VocabSizeKey = "distill.vocab_size",
        TokenizerHashKey = "distill.tokenizer_hash", ScopeKey = "distill.scope";
    public static readonly IReadOnlyList<string> Scopes = ["response", "all"];

    public static Schema Schema(TeacherBatchMeta meta, int imageBytes)
    {
        ValidateMeta(meta);
        var b = new Schema.Builder();
        foreach (var f in SampleColumns.Fields(imageBytes)) b.Field(f);
        return b
            .Field(new Field(TopkIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false))
            .Field(new Field(TopkLogprobs, ArrowColumns.ListOf(HalfFloatType.Default), nullable: false))
            .Field(new Field(TailLogprob, ArrowColumns.ListOf(FloatType.Default), nullable: false))
            .Metadata(ArrowContract.SchemaKey, SchemaName)
            .Metadata(FingerprintKey, meta.TeacherFingerprint)
            .Metadata(TopKKey, meta.TopK.ToString(CultureInfo.InvariantCulture))
            .Metadata(VocabSizeKey, meta.VocabSize.ToString(CultureInfo.InvariantCulture))
            .Metadata(TokenizerHashKey, meta.TokenizerHash)
            .Metadata(ScopeKey, meta.Scope)
            .Build();
    }

    public static byte[] Write(IReadOnlyList<TeacherRow> rows, TeacherBatchMeta meta, int imageBytes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var schema = Schema(meta, imageBytes);
        SampleColumns.Validate(rows.Select((r, i) => r?.Sample ?? throw new ArgumentException($"{SchemaName}: row {i} is null")).ToList(),
            imageBytes, SchemaName);
        foreach (var r in rows)
            CheckTopK(r, meta, msg => new ArgumentException(msg));
        var arrays = SampleColumns.Arrays(rows.Select(r => r.Sample).ToList(), imageBytes).ToList();
        arrays.Add(ArrowColumns.Int32Lists(rows.Select(r => r.TopkIds).ToList()));
        arrays.Add(ArrowColumns.HalfLists(rows.Select(r => r.TopkLogprobs).ToList()));
        arrays.Add(ArrowColumns.FloatLists(rows.Select(r => r.TailLogprob).ToList()));
        return ArrowIpc.Write(schema, arrays, rows.Count);
    }

    public static (IReadOnlyList<TeacherRow> Rows, TeacherBatchMeta Meta) Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            SampleColumns.RequireColumns(schema, SchemaName);
            ArrowContract.RequireColumn(schema, TopkIds, ArrowTypeId.List, SchemaName, ArrowTypeId.Int32);
            ArrowContract.RequireColumn(schema, TopkLogprobs, ArrowTypeId.List, SchemaName, ArrowTypeId.HalfFloat);
            ArrowContract.RequireColumn(schema, TailLogprob, ArrowTypeId.List, SchemaName, ArrowTypeId.Float);
            var meta = new TeacherBatchMeta(
                ArrowContract.RequireMetadata(schema, FingerprintKey, SchemaName),
                ArrowContract.RequireIntMetadata(schema, TopKKey, SchemaName),
                ArrowContract.RequireIntMetadata(schema, VocabSizeKey, SchemaName),
                ArrowContract.RequireMetadata(schema, TokenizerHashKey, SchemaName),
                ArrowContract.RequireMetadata(schema, ScopeKey, SchemaName));
            if (!Scopes.Contains(meta.Scope))
                throw new InvalidDataException($"{SchemaName}: metadata '{ScopeKey}' = '{meta.Scope}', expected one of {string.Join(", ", Scopes)}");
            var rows = new List<TeacherRow>();
            foreach (var batch in batches)
            {
                var samples = SampleColumns.ReadRows(batch, SchemaName);
                var ids = (ListArray)batch.Column(TopkIds);
                var logprobs = (ListArray)batch.Column(TopkLogprobs);
                var tails = (ListArray)batch.Column(TailLogprob);
                for (int i = 0; i < samples.Count; i++)
                {
                    if (ids.IsNull(i) || logprobs.IsNull(i) || tails.IsNull(i))
                        throw new InvalidDataException($"{SchemaName}: sample '{samples[i].SampleId}' has a null teacher column");
                    var row = new TeacherRow(samples[i], ArrowColumns.Int32List(ids, i), ArrowColumns.HalfList(logprobs, i),
                        ArrowColumns.FloatList(tails, i));
                    CheckTopK(row, meta, msg => new InvalidDataException(msg));
                    rows.Add(row);
                }
            }
            return (rows, meta);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    private static void ValidateMeta(TeacherBatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (meta.TopK <= 0) throw new ArgumentException($"{SchemaName}: TopK must be > 0, got {meta.TopK}");
        if (meta.VocabSize <= 0) throw new ArgumentException($"{SchemaName}: VocabSize must be > 0, got {meta.VocabSize}");
        if (string.IsNullOrEmpty(meta.TeacherFingerprint)) throw new ArgumentException($"{SchemaName}: TeacherFingerprint is empty");
        if (string.IsNullOrEmpty(meta.TokenizerHash)) throw new ArgumentException($"{SchemaName}: TokenizerHash is empty");
        if (!Scopes.Contains(meta.Scope))
            throw new ArgumentException($"{SchemaName}: Scope '{meta.Scope}' is not one of {string.Join(", ", Scopes)}");
    }

    /// <summary>topk lengths == positions*K and every id inside the vocabulary; errors name the sample id.</summary>
    private static void CheckTopK(TeacherRow r, TeacherBatchMeta meta, Func<string, Exception> error)
    {
        string id = r.Sample.SampleId;
        if (r.TopkIds is null || r.TopkLogprobs is null || r.TailLogprob is null)
            throw error($"{SchemaName}: sample '{id}' lacks topk_ids, topk_logprobs or tail_logprob");
        long expected = (long)r.Positions * meta.TopK;
        if (r.TopkIds.Length != expected || r.TopkLogprobs.Length != expected)
            throw error($"{SchemaName}: sample '{id}' has {r.TopkIds.Length} topk_ids and {r.TopkLogprobs.Length} topk_logprobs, " +
                        $"expected positions*K = {r.Positions}*{meta.TopK} = {expected}");
        foreach (int t in r.TopkIds)
            if (t < 0 || t >= meta.VocabSize)
                throw error($"{SchemaName}: sample '{id}' has topk id {t} outside the vocabulary of {meta.VocabSize}");
    }
}
