using Distill.Models.Torch;
using Distill.Models.Generation;
using System.Globalization;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>The teacher of the preference stage, the reference model: <c>candidates/v1</c> -> <c>preference/v1</c>.
/// Scores every response with <see cref="VisionLanguageModel.ScoreResponsesWithImageFeatures"/> (log-probs summed over
/// the response tokens, eos included; one image encoding per row). A judged row keeps its pair and gets
/// ref_chosen_logp / ref_rejected_logp; a row left to the teacher becomes the pair of its best and worst response by
/// the length-normalised log-likelihood (sum / tokens), with those two sums as the reference log-probs.</summary>
public sealed class PreferenceTeacher : ITeacherStep, IArrowCodecTimed
{
    private readonly ArrowCodecClock _codec = new();
    private readonly VisionLanguageModel _model;
    private readonly PreferenceBatchMeta _meta;
    private readonly ImageFormat _imageFormat;
    private readonly int _padId;
    private readonly int _maxSequences;

    /// <param name="maxSequences">responses scored in one forward (rows are never split across forwards).</param>
    public PreferenceTeacher(string checkpointDir, string fingerprint, string tokenizerHash, ImageFormat imageFormat, int padId,
        int maxSequences = 64, Placement? placement = null)
    {
        if (maxSequences < 2) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "must be at least 2");
        _model = Checkpoint.Load(checkpointDir, placement);
        _model.eval();
        _meta = new PreferenceBatchMeta(fingerprint, tokenizerHash);
        _imageFormat = imageFormat;
        _padId = padId;
        _maxSequences = maxSequences;
    }

    public PreferenceBatchMeta Meta => _meta;

    /// <summary>Time spent reading candidates/v1 and writing preference/v1.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public byte[] Infer(byte[] candidatesV1)
    {
        var (rows, meta, imageBytes) = _codec.Decoding(() => CandidatesV1.Read(candidatesV1));
        if (meta.TokenizerHash != _meta.TokenizerHash)
            throw new InvalidDataException($"{CandidatesV1.SchemaName}: tokenizer hash {meta.TokenizerHash} differs from the teacher's {_meta.TokenizerHash}");
        if (imageBytes != _imageFormat.Bytes)
            throw new InvalidDataException($"{CandidatesV1.SchemaName}: images of {imageBytes} bytes, the teacher expects {_imageFormat}x{_imageFormat}x3");
        var output = new List<PreferenceRow>(rows.Count);
        foreach (var group in Groups(rows))
        {
            var sums = Score(group);
            for (int i = 0; i < group.Count; i++) output.Add(Pair(group[i], sums[i]));
        }
        return _codec.Encoding(() => PreferenceV1.Write(output, _meta, imageBytes));
    }

    /// <summary>Consecutive rows holding at most <see cref="_maxSequences"/> responses together (a larger row alone).</summary>
    private IEnumerable<List<CandidateRow>> Groups(IReadOnlyList<CandidateRow> rows)
    {
        var group = new List<CandidateRow>();
        int sequences = 0;
        foreach (var row in rows)
        {
            if (group.Count > 0 && sequences + row.Responses.Length > _maxSequences)
            {
                yield return group;
                group = new List<CandidateRow>();
                sequences = 0;
            }
            group.Add(row);
            sequences += row.Responses.Length;
        }
        if (group.Count > 0) yield return group;
    }

    /// <summary>Per row, the summed log-prob of each of its responses under the teacher.</summary>
    private double[][] Score(IReadOnlyList<CandidateRow> rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = _model.EncodeImages(ImageTensors.FromRgb(rows.Select(r => r.Image).ToList(), _imageFormat)); // [R,N,D]
        var owner = rows.SelectMany((r, i) => Enumerable.Repeat((long)i, r.Responses.Length)).ToArray();
        var perResponse = features.index_select(0, tensor(owner, device: features.device));                      // [S,N,D]
        var prompts = rows.SelectMany(r => Enumerable.Repeat(r.PromptIds, r.Responses.Length)).ToList();
        var responses = rows.SelectMany(r => r.Responses).ToList();
        var sums = _model.ScoreResponsesWithImageFeatures(perResponse, prompts, responses, _padId).Sum  // [S]
            .cpu().data<float>().ToArray();
        var result = new double[rows.Count][];
        int s = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            result[i] = sums.AsSpan(s, rows[i].Responses.Length).ToArray().Select(v => (double)v).ToArray();
            s += rows[i].Responses.Length;
        }
        return result;
    }

    private static PreferenceRow Pair(CandidateRow row, double[] sums)
    {
        if (row.IsJudged)
            return new PreferenceRow(row.SampleId, row.Image, row.PromptIds, row.Responses[0], row.Responses[1], sums[0], sums[1], row.Source, row.Judge!);
        var means = sums.Select((s, i) => s / row.Responses[i].Length).ToArray();
        int best = 0, worst = 0;
        for (int i = 1; i < means.Length; i++)
        {
            if (means[i] > means[best]) best = i;
            if (means[i] < means[worst]) worst = i;
        }
        if (best == worst) worst = best == 0 ? 1 : 0; // every response equally likely: any other one
        string judge = string.Create(CultureInfo.InvariantCulture,
            $"teacher length-normalised log-likelihood {means[best]:0.###} vs {means[worst]:0.###} (best and worst of {means.Length})");
        return new PreferenceRow(row.SampleId, row.Image, row.PromptIds, row.Responses[best], row.Responses[worst],
            sums[best], sums[worst], row.Source, judge);
    }

    public void Dispose() => _model.Dispose();
}
