using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary><c>candidates/v1</c> (preference source -> teacher): the input of the preference stage's dataflow, pairs
/// before the teacher has scored them. Columns: sample_id utf8, image fixed_size_binary(H*W*3), prompt_ids
/// list&lt;int32&gt;, responses list&lt;list&lt;int32&gt;&gt;, source utf8, judge utf8? (null = the teacher judges, see
/// <see cref="CandidateRow"/>). Metadata: distill.tokenizer_hash. The teacher turns a batch into <see cref="PreferenceV1"/>
/// (one pair per row); a separate contract, not <c>preference/v1</c> with empty log-probs, so an unscored batch can never
/// be trained on.</summary>
public static class CandidatesV1
{
    public const string SchemaName = "candidates/v1";
    public const string Responses = "responses";
    public const string TokenizerHashKey = TeacherV2.TokenizerHashKey;

    public static Schema Schema(CandidateBatchMeta meta, int imageBytes)
    {
        ValidateMeta(meta);
        var b = new Schema.Builder();
        foreach (var f in PairColumns.Leading(imageBytes)) b.Field(f);
        b.Field(new Field(Responses, ArrowColumns.ListOf(ArrowColumns.ListOf(Int32Type.Default)), nullable: false));
        foreach (var f in PairColumns.Trailing(judgeNullable: true)) b.Field(f);
        return b.Metadata(ArrowContract.SchemaKey, SchemaName).Metadata(TokenizerHashKey, meta.TokenizerHash).Build();
    }

    public static byte[] Write(IReadOnlyList<CandidateRow> rows, CandidateBatchMeta meta, int imageBytes)
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
            ArrowColumns.Int32ListLists(rows.Select(r => r.Responses).ToList()),
            ArrowColumns.Utf8(rows.Select(r => r.Source)),
            ArrowColumns.Utf8(rows.Select(r => r.Judge)),
        ];
        return ArrowIpc.Write(schema, arrays, rows.Count);
    }

    public static (IReadOnlyList<CandidateRow> Rows, CandidateBatchMeta Meta, int ImageBytes) Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            PairColumns.RequireColumns(schema, SchemaName);
            var field = ArrowContract.RequireColumn(schema, Responses, ArrowTypeId.List, SchemaName, ArrowTypeId.List);
            if (((ListType)((ListType)field.DataType).ValueDataType).ValueDataType.TypeId != ArrowTypeId.Int32)
                throw new InvalidDataException($"{SchemaName}: column '{Responses}' must be list<list<int32>>");
            var meta = new CandidateBatchMeta(ArrowContract.RequireMetadata(schema, TokenizerHashKey, SchemaName));
            int imageBytes = PairColumns.ImageBytes(schema);
            var rows = PairColumns.ReadRows<CandidateRow>(batches, SchemaName, (batch, shared) =>
            {
                var responses = (ListArray)batch.Column(Responses);
                return i =>
                {
                    string id = shared.Id(i);
                    if (responses.IsNull(i)) throw new InvalidDataException($"{SchemaName}: sample '{id}' has a null {Responses}");
                    return new CandidateRow(id, shared.ImageOf(i), shared.Prompt(i), ArrowColumns.Int32ListList(responses, i),
                        shared.SourceOf(i), shared.JudgeOf(i));
                };
            }, (index, row) => Check(index, row, imageBytes, msg => new InvalidDataException(msg)));
            return (rows, meta, imageBytes);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    private static void ValidateMeta(CandidateBatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (string.IsNullOrEmpty(meta.TokenizerHash)) throw new ArgumentException($"{SchemaName}: TokenizerHash is empty");
    }

    /// <summary>A judged row holds exactly [chosen, rejected], different; an unjudged one at least two responses, all
    /// different; no response is empty.</summary>
    private static void Check(int index, CandidateRow? r, int imageBytes, Func<string, Exception> error)
    {
        if (r is null) throw error($"{SchemaName}: row {index} is null");
        PairColumns.Check(index, r.SampleId, r.Image, r.PromptIds, r.Source, imageBytes, SchemaName, error);
        if (r.Responses is null || r.Responses.Any(x => x is null || x.Length == 0))
            throw error($"{SchemaName}: sample '{r.SampleId}' has a missing or empty response");
        if (r.Judge is not null && r.Judge.Length == 0) throw error($"{SchemaName}: sample '{r.SampleId}' has an empty judge");
        if (r.IsJudged && r.Responses.Length != 2)
            throw error($"{SchemaName}: judged sample '{r.SampleId}' has {r.Responses.Length} responses, expected 2 (chosen, rejected)");
        if (!r.IsJudged && r.Responses.Length < 2)
            throw error($"{SchemaName}: sample '{r.SampleId}' has {r.Responses.Length} response(s) for the teacher to judge, expected at least 2");
        for (int a = 0; a < r.Responses.Length; a++)
            for (int b = a + 1; b < r.Responses.Length; b++)
                if (r.Responses[a].AsSpan().SequenceEqual(r.Responses[b]))
                    throw error($"{SchemaName}: sample '{r.SampleId}' has identical responses {a} and {b}");
    }
}
