using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>The top-K columns of the former <c>teacher/v1</c> alone (topk_ids list&lt;int32&gt;, topk_logprobs list&lt;float16&gt;,
/// tail_logprob list&lt;float32&gt;), a row holding the positions of one sample as in a <c>teacher/v1</c> part: what the
/// cache stored per token before <c>teacher/v2</c>, for comparing its size with <see cref="CompactTopKPart"/>.</summary>
public static class TopKListPart
{
    public const string SchemaName = "topk-lists/1";
    public const string TopkIds = "topk_ids", TopkLogprobs = "topk_logprobs", TailLogprob = "tail_logprob", TopKKey = "distill.top_k";

    /// <summary><paramref name="tokens"/> in rows of <paramref name="positionsPerRow"/> positions (the last row may be
    /// shorter); the log-probs rounded to float16 as <c>teacher/v1</c> stores them.</summary>
    public static byte[] Write(TopKTokens tokens, int positionsPerRow, IpcCompression compression)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (positionsPerRow < 1) throw new ArgumentOutOfRangeException(nameof(positionsPerRow), positionsPerRow, "a row holds at least one position");
        int k = tokens.TopK, n = tokens.Count;
        if (tokens.Ids.Length != (long)n * k || tokens.Logprobs.Length != (long)n * k)
            throw new ArgumentException($"{SchemaName}: {tokens.Ids.Length} ids and {tokens.Logprobs.Length} log-probs for {n} tokens of K = {k}");
        var ids = new List<int[]>();
        var logprobs = new List<Half[]>();
        var tails = new List<float[]>();
        for (int start = 0; start < n; start += positionsPerRow)
        {
            int count = Math.Min(positionsPerRow, n - start);
            ids.Add(tokens.Ids.AsSpan(start * k, count * k).ToArray());
            logprobs.Add(tokens.Logprobs.AsSpan(start * k, count * k).ToArray().Select(v => (Half)v).ToArray());
            tails.Add(tokens.Tails.AsSpan(start, count).ToArray());
        }
        var schema = new Schema.Builder()
            .Field(new Field(TopkIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false))
            .Field(new Field(TopkLogprobs, ArrowColumns.ListOf(HalfFloatType.Default), nullable: false))
            .Field(new Field(TailLogprob, ArrowColumns.ListOf(FloatType.Default), nullable: false))
            .Metadata(ArrowContract.SchemaKey, SchemaName)
            .Metadata(TopKKey, k.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Build();
        IArrowArray[] columns = [ArrowColumns.Int32Lists(ids), ArrowColumns.HalfLists(logprobs), ArrowColumns.FloatLists(tails)];
        return ArrowIpc.Write(schema, columns, ids.Count, compression);
    }

    /// <summary>Every row's positions back, in order, as float32 log-probs.</summary>
    public static TopKTokens Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            int k = ArrowContract.RequireIntMetadata(schema, TopKKey, SchemaName);
            var ids = new List<int>();
            var logprobs = new List<float>();
            var tails = new List<float>();
            foreach (var batch in batches)
                for (int r = 0; r < batch.Length; r++)
                {
                    ids.AddRange(ArrowColumns.Int32List((ListArray)batch.Column(TopkIds), r));
                    logprobs.AddRange(ArrowColumns.HalfList((ListArray)batch.Column(TopkLogprobs), r).Select(v => (float)v));
                    tails.AddRange(ArrowColumns.FloatList((ListArray)batch.Column(TailLogprob), r));
                }
            if (ids.Count != (long)tails.Count * k || logprobs.Count != ids.Count)
                throw new InvalidDataException($"{SchemaName}: {ids.Count} ids and {logprobs.Count} log-probs for {tails.Count} positions of K = {k}");
            return new TopKTokens(k, [.. ids], [.. logprobs], [.. tails]);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }
}
