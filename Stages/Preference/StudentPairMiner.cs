using Distill.Stages.Scoring;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Generation;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Flow;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>Mines preference pairs from the current student (DESIGN 5.3): for each chosen prompt it samples
/// <see cref="MiningOptions.SamplesPerPrompt"/> responses (seeded temperature / top-p sampling), then:
/// <list type="bullet">
/// <item>caption prompts, with hallucination pairs on: <see cref="HallucinationJudge"/> against the scene
/// (source <c>hallucination</c>);</item>
/// <item>prompts whose task has an exact answer, with student-sampled pairs on: <see cref="GroundTruthJudge"/>
/// (source <c>student-sampled</c>);</item>
/// <item>otherwise (captions without a hallucination, answers without a reference), with student-sampled pairs on:
/// the distinct responses go to the teacher, which judges them by its length-normalised log-likelihood.</item>
/// </list>
/// A sampled response holding the image token is left out (and counted): a sequence must hold exactly the image's
/// N image tokens, so it cannot be scored. Runs on the student side before the dataflow; the teacher step then scores
/// (and where asked, judges) the rows. Not thread-safe.</summary>
public sealed class StudentPairMiner
{
    private readonly VisionLanguageModel _student;
    private readonly PreparedData _data;
    private readonly MiningOptions _options;
    private int _withImageToken;

    /// <param name="data">the prompts' tokenizer and template, and the objects of each image for hallucination pairs
    /// (<see cref="PreparedData.ObjectsOf"/>).</param>
    public StudentPairMiner(VisionLanguageModel student, PreparedData data, MiningOptions options)
    {
        _student = student;
        _data = data;
        _options = options.Validate();
    }

    /// <summary>Whether mining can make a pair from this sample under the enabled sources.</summary>
    public bool IsEligible(QuestionSample sample) => IsCaption(sample)
        ? _options.Hallucination || _options.StudentSampled
        : _options.StudentSampled;

    private static bool IsCaption(QuestionSample sample) => sample.Task == ShapesVocabulary.Caption;

    /// <summary>Mines <paramref name="count"/> eligible prompts of a split, picked by a seeded shuffle.
    /// <paramref name="rows"/> are the split's <c>samples/v1</c> rows, aligned with <paramref name="samples"/>.</summary>
    public MinedPairs Mine(string split, IReadOnlyList<QuestionSample> samples, IReadOnlyList<SampleRow> rows, int count,
        string stage, IStageProgress progress, CancellationToken cancellation)
    {
        if (samples.Count != rows.Count) throw new ArgumentException($"{samples.Count} samples but {rows.Count} rows of split '{split}'");
        if (count == 0) return MinedPairs.None;
        var random = new DeterministicRandom(DeterministicRandom.Derive(_options.Seed, split + "/preference-prompts"));
        var eligible = Enumerable.Range(0, samples.Count).Where(i => IsEligible(samples[i])).ToList();
        random.Shuffle(eligible);
        var picked = eligible.Take(count).ToList();
        var candidates = new List<CandidateRow>();
        int skipped = 0, done = 0, chunkIndex = 0;
        _withImageToken = 0;
        var clock = Stopwatch.StartNew();
        _student.eval();
        foreach (var chunk in picked.Chunk(_options.BatchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            var sampled = Sample(chunk.Select(i => (samples[i], rows[i])).ToList(), split, chunkIndex++);
            for (int j = 0; j < chunk.Length; j++)
            {
                var row = Judge(samples[chunk[j]], rows[chunk[j]], sampled[j]);
                if (row is null) skipped++; else candidates.Add(row);
            }
            done += chunk.Length;
            progress.Report(new StageProgress(stage, $"mine-{split}", done, picked.Count, done / clock.Elapsed.TotalSeconds, double.NaN));
        }
        return new MinedPairs(candidates, picked.Count, skipped, _withImageToken);
    }

    /// <summary>SamplesPerPrompt responses for each prompt of the chunk, distinct by ids, in sampling order.</summary>
    private List<List<SampledResponse>> Sample(IReadOnlyList<(QuestionSample Sample, SampleRow Row)> chunk, string split, int chunkIndex)
    {
        int n = _options.SamplesPerPrompt;
        var images = chunk.SelectMany(x => Enumerable.Repeat(x.Row.Image, n)).ToList();
        var prompts = chunk.SelectMany(x => Enumerable.Repeat(PromptOf(x.Sample), n)).ToList();
        var generation = new GenerationOptions(_options.MaxNewTokens, _data.EosId, _data.PadId,
            _options.Temperature, _options.TopP,
            Seed: unchecked((long)DeterministicRandom.Derive(_options.Seed, $"{split}/preference-sampling/{chunkIndex}")))
        { MoreEosIds = _data.Stop.MoreEosIds };
        IReadOnlyList<int[]> tokens;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var pixels = ImageTensors.FromRgb(images, _data.ImageFormat);                      // [B*n,3,S,S]
            tokens = _student.Generate(pixels, prompts, generation).Tokens;
        }
        var result = new List<List<SampledResponse>>(chunk.Count);
        for (int p = 0; p < chunk.Count; p++)
        {
            var distinct = new List<SampledResponse>(n);
            for (int k = 0; k < n; k++)
            {
                int[] ids = [.. tokens[p * n + k], _data.EosId];
                if (ids.Contains(_data.ImageTokenId)) { _withImageToken++; continue; } // cannot be scored: the image has N slots
                if (!distinct.Any(d => d.Ids.AsSpan().SequenceEqual(ids)))
                    distinct.Add(new SampledResponse(ids, _data.Tokenizer.Decode(tokens[p * n + k])));
            }
            result.Add(distinct);
        }
        return result;
    }

    /// <summary>The candidate row of one prompt, or null when its responses offer nothing to contrast.</summary>
    private CandidateRow? Judge(QuestionSample sample, SampleRow row, List<SampledResponse> responses)
    {
        int[] prompt = PromptOf(sample);
        if (IsCaption(sample) && _options.Hallucination)
        {
            var objects = _data.ObjectsOf(sample) ?? throw new InvalidDataException($"caption sample '{sample.Id}': the objects of its image ({sample.Image}) are unknown, so hallucinations cannot be judged");
            var verdict = HallucinationJudge.Judge(responses, objects, ResponseOf(sample.Answer));
            if (verdict is not null)
                return CandidateRow.Judged(sample.Id, row.Image, prompt, verdict.Chosen, verdict.Rejected, PreferenceSources.Hallucination, verdict.Judge);
        }
        if (!_options.StudentSampled) return null;
        if (_data.HasExactAnswer(sample))
        {
            var verdict = GroundTruthJudge.Judge(_data.Answers, responses, sample.Answer);
            return verdict is null
                ? null
                : CandidateRow.Judged(sample.Id, row.Image, prompt, verdict.Chosen, verdict.Rejected, PreferenceSources.StudentSampled, verdict.Judge);
        }
        return responses.Count < 2
            ? null
            : new CandidateRow(sample.Id, row.Image, prompt, responses.Select(r => r.Ids).ToArray(), PreferenceSources.StudentSampled, Judge: null);
    }

    private int[] PromptOf(QuestionSample sample) => _data.EncodePrompt(sample.Question);

    private int[] ResponseOf(string answer) => [.. _data.Tokenizer.Encode(answer), _data.EosId];
}
