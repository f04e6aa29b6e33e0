using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;
using Distill.Stages.Arrow;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary><c>candidates/v1</c> and <c>preference/v1</c>: round trips on real values, schema names, types and
/// metadata, and the errors of writers and readers.</summary>
public sealed class PreferenceArrowTests
{
    private static readonly byte[] ImageA = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    private static readonly byte[] ImageB = [255, 0, 128, 7, 7, 7, 0, 0, 0, 9, 9, 9];
    private static readonly int[] Prompt = [1, 5, 4, 4, 13, 9, 6];

    private static readonly CandidateRow Judged = CandidateRow.Judged("train_00003_01", ImageA, Prompt, [20, 2], [21, 22, 2],
        PreferenceSources.StudentSampled, "ground truth 'red': rejected answered 'blue square'");
    private static readonly CandidateRow ForTeacher = new("train_00004_00", ImageB, [1, 5, 4, 4, 17, 6],
        [[30, 31, 32, 33, 2], [30, 2], [34, 35, 2]], PreferenceSources.StudentSampled, Judge: null);

    private static readonly PreferenceRow PairA = new("train_00003_01", ImageA, Prompt, [20, 2], [21, 22, 2],
        -1.25, -7.0009765625, PreferenceSources.StudentSampled, "ground truth 'red': rejected answered 'blue square'");
    private static readonly PreferenceRow PairB = new("rlaif.jsonl:3", ImageB, [1, 5, 4, 4, 17, 6], [30, 31, 32, 33, 2], [34, 35, 2],
        -12.375, -3.0517578125e-05, PreferenceSources.Dataset, "dataset rlaif.jsonl");

    private static readonly PreferenceBatchMeta Meta = new("teacher-abc123", "tokhash-9f");

    [Fact]
    public void Candidates_round_trip_judged_pairs_and_groups_for_the_teacher()
    {
        var (rows, meta, imageBytes) = CandidatesV1.Read(CandidatesV1.Write([Judged, ForTeacher], new CandidateBatchMeta("tokhash-9f"), 12));
        Assert.Equal("tokhash-9f", meta.TokenizerHash);
        Assert.Equal(12, imageBytes);
        Assert.Equal(2, rows.Count);
        Assert.Equal(Judged.SampleId, rows[0].SampleId);
        Assert.Equal(ImageA, rows[0].Image);
        Assert.Equal(Prompt, rows[0].PromptIds);
        Assert.Equal([[20, 2], [21, 22, 2]], rows[0].Responses);
        Assert.Equal(Judged.Judge, rows[0].Judge);
        Assert.True(rows[0].IsJudged);
        Assert.Equal(ImageB, rows[1].Image);
        Assert.Equal([[30, 31, 32, 33, 2], [30, 2], [34, 35, 2]], rows[1].Responses);
        Assert.Null(rows[1].Judge);
        Assert.Equal("student-sampled", rows[1].Source);
        Assert.Empty(CandidatesV1.Read(CandidatesV1.Write([], new CandidateBatchMeta("t"), 12)).Rows);
    }

    [Fact]
    public void Preference_rows_and_metadata_round_trip_with_exact_float64_log_probs()
    {
        var (rows, meta, imageBytes) = PreferenceV1.Read(PreferenceV1.Write([PairA, PairB], Meta, 12));
        Assert.Equal(Meta, meta);
        Assert.Equal(12, imageBytes);
        Assert.Equal(2, rows.Count);
        foreach (var (expected, actual) in new[] { PairA, PairB }.Zip(rows))
        {
            Assert.Equal(expected.SampleId, actual.SampleId);
            Assert.Equal(expected.Image, actual.Image);
            Assert.Equal(expected.PromptIds, actual.PromptIds);
            Assert.Equal(expected.ChosenIds, actual.ChosenIds);
            Assert.Equal(expected.RejectedIds, actual.RejectedIds);
            Assert.Equal(expected.Source, actual.Source);
            Assert.Equal(expected.Judge, actual.Judge);
        }
        Assert.Equal(-7.0009765625, rows[0].RefRejectedLogp); // float64: no rounding to float32
        Assert.Equal(-3.0517578125e-05, rows[1].RefRejectedLogp);
        Assert.Equal(-12.375, rows[1].RefChosenLogp);
    }

    [Fact]
    public void Preference_schema_carries_its_name_columns_types_and_metadata()
    {
        var bytes = PreferenceV1.Write([PairA], Meta, 12);
        Assert.Equal("preference/v1", ArrowContract.SchemaNameOf(bytes));
        var schema = PreferenceV1.Schema(Meta, 12);
        Assert.Equal(["sample_id", "image", "prompt_ids", "chosen_ids", "rejected_ids", "ref_chosen_logp", "ref_rejected_logp", "source", "judge"],
            schema.FieldsList.Select(f => f.Name));
        Assert.Equal(ArrowTypeId.Double, schema.GetFieldByName("ref_chosen_logp").DataType.TypeId);
        Assert.Equal(ArrowTypeId.Double, schema.GetFieldByName("ref_rejected_logp").DataType.TypeId);
        Assert.Equal(12, ((FixedSizeBinaryType)schema.GetFieldByName("image").DataType).ByteWidth);
        Assert.Equal("teacher-abc123", schema.Metadata["distill.teacher_fingerprint"]);
        Assert.Equal("tokhash-9f", schema.Metadata["distill.tokenizer_hash"]);
        Assert.Equal("candidates/v1", ArrowContract.SchemaNameOf(CandidatesV1.Write([Judged], new CandidateBatchMeta("t"), 12)));
        var responses = (ListType)CandidatesV1.Schema(new CandidateBatchMeta("t"), 12).GetFieldByName("responses").DataType;
        Assert.Equal(ArrowTypeId.Int32, ((ListType)responses.ValueDataType).ValueDataType.TypeId);
    }

    [Fact]
    public void Readers_refuse_the_other_schemas()
    {
        var candidates = CandidatesV1.Write([Judged], new CandidateBatchMeta("t"), 12);
        var preference = PreferenceV1.Write([PairA], Meta, 12);
        Assert.Equal("expected preference/v1, found candidates/v1", Assert.Throws<InvalidDataException>(() => PreferenceV1.Read(candidates)).Message);
        Assert.Equal("expected candidates/v1, found preference/v1", Assert.Throws<InvalidDataException>(() => CandidatesV1.Read(preference)).Message);
        Assert.Equal("expected teacher/v2, found preference/v1", Assert.Throws<InvalidDataException>(() => TeacherV2.Read(preference, new RowImages([], 1))).Message);
        var samples = SamplesV1.Write([new SampleRow("s", ImageA, [1, 2], [false, true], "colour", "red")], 12);
        Assert.Equal("expected preference/v1, found samples/v1", Assert.Throws<InvalidDataException>(() => PreferenceV1.Read(samples)).Message);
        Assert.Contains("preference/v1", Assert.Throws<InvalidDataException>(() => PreferenceV1.Read([1, 2, 3])).Message);
    }

    [Fact]
    public void Writers_refuse_bad_rows_naming_the_sample()
    {
        var unscored = PairA with { RefChosenLogp = double.NaN };
        var e = Assert.Throws<ArgumentException>(() => PreferenceV1.Write([unscored], Meta, 12));
        Assert.Contains("train_00003_01", e.Message);
        Assert.Contains("finite", e.Message);
        Assert.Contains("same chosen and rejected", Assert.Throws<ArgumentException>(() =>
            PreferenceV1.Write([PairA with { RejectedIds = [20, 2] }], Meta, 12)).Message);
        Assert.Contains("'somewhere'", Assert.Throws<ArgumentException>(() =>
            PreferenceV1.Write([PairB with { Source = "somewhere" }], Meta, 12)).Message);
        Assert.Contains("rlaif.jsonl:3", Assert.Throws<ArgumentException>(() => PreferenceV1.Write([PairB], Meta, 13)).Message);
        Assert.Contains("TeacherFingerprint", Assert.Throws<ArgumentException>(() => PreferenceV1.Write([], Meta with { TeacherFingerprint = "" }, 12)).Message);

        var three = Judged with { Responses = [[1, 2], [3, 2], [4, 2]] };
        Assert.Contains("expected 2 (chosen, rejected)", Assert.Throws<ArgumentException>(() =>
            CandidatesV1.Write([three], new CandidateBatchMeta("t"), 12)).Message);
        var twins = ForTeacher with { Responses = [[30, 2], [31, 2], [30, 2]] };
        var t = Assert.Throws<ArgumentException>(() => CandidatesV1.Write([twins], new CandidateBatchMeta("t"), 12));
        Assert.Contains("train_00004_00", t.Message);
        Assert.Contains("identical responses 0 and 2", t.Message);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() =>
            CandidatesV1.Write([ForTeacher with { Responses = [[30, 2]] }], new CandidateBatchMeta("t"), 12)).Message);
    }

    [Fact]
    public void A_stream_with_an_unscored_pair_is_refused_on_read_naming_the_sample()
    {
        var schema = PreferenceV1.Schema(Meta, 12);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceV1.Read(HandWritten(schema, refChosen: double.NaN)));
        Assert.Contains("train_00003_01", e.Message);
        Assert.Contains("NaN", e.Message);
        Assert.Single(PreferenceV1.Read(HandWritten(schema, refChosen: -2.5)).Rows); // the same stream with a number is fine
    }

    [Fact]
    public void Missing_metadata_and_mistyped_columns_are_named()
    {
        var noFingerprint = new Schema.Builder();
        foreach (var f in PreferenceV1.Schema(Meta, 12).FieldsList) noFingerprint.Field(f);
        var schema = noFingerprint.Metadata("distill.schema", "preference/v1").Metadata("distill.tokenizer_hash", "t").Build();
        Assert.Contains("'distill.teacher_fingerprint'", Assert.Throws<InvalidDataException>(() => PreferenceV1.Read(HandWritten(schema, -1))).Message);

        var floatRef = new Schema.Builder();
        foreach (var f in PreferenceV1.Schema(Meta, 12).FieldsList)
            floatRef.Field(f.Name == "ref_chosen_logp" ? new Field(f.Name, FloatType.Default, false) : f);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceV1.Read(Empty(floatRef.Metadata(PreferenceV1.Schema(Meta, 12).Metadata).Build())));
        Assert.Contains("'ref_chosen_logp'", e.Message);
        Assert.Contains("Float", e.Message);
    }

    /// <summary>One preference/v1 row (PairA's values) written with public Arrow builders, bypassing the writer's checks.</summary>
    private static byte[] HandWritten(Schema schema, double refChosen)
    {
        static ListArray Ints(int[] values)
        {
            var b = new ListArray.Builder(Int32Type.Default);
            b.Append();
            var v = (Int32Array.Builder)b.ValueBuilder;
            foreach (int x in values) v.Append(x);
            return b.Build();
        }
        var image = new FixedSizeBinaryArray(new ArrayData(new FixedSizeBinaryType(12), 1, 0, 0,
            [ArrowBuffer.Empty, new ArrowBuffer(ImageA)]));
        IArrowArray[] columns =
        [
            new StringArray.Builder().Append(PairA.SampleId).Build(), image, Ints(PairA.PromptIds), Ints(PairA.ChosenIds),
            Ints(PairA.RejectedIds), new DoubleArray.Builder().Append(refChosen).Build(),
            new DoubleArray.Builder().Append(PairA.RefRejectedLogp).Build(),
            new StringArray.Builder().Append(PairA.Source).Build(), new StringArray.Builder().Append(PairA.Judge).Build(),
        ];
        using var ms = new MemoryStream();
        using (var w = new Apache.Arrow.Ipc.ArrowStreamWriter(ms, schema, leaveOpen: true))
        {
            w.WriteRecordBatch(new RecordBatch(schema, columns, 1));
            w.WriteEnd();
        }
        return ms.ToArray();
    }

    private static byte[] Empty(Schema schema)
    {
        using var ms = new MemoryStream();
        using (var w = new Apache.Arrow.Ipc.ArrowStreamWriter(ms, schema, leaveOpen: true)) { w.WriteStart(); w.WriteEnd(); }
        return ms.ToArray();
    }
}
