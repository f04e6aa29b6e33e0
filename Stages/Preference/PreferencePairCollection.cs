using Distill.Models.Torch;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>Collects the candidates of the preference stage, on the student side before the dataflow starts: pairs
/// of a dataset file (all for training) and pairs mined from the student (<see cref="StudentPairMiner"/>) on
/// <see cref="MiningOptions.Prompts"/> training prompts and <see cref="MiningOptions.HeldOutPrompts"/> validation
/// prompts (the held-out pairs). The student is loaded for mining and freed before this returns.</summary>
public static class PreferencePairCollection
{
    /// <param name="datasetFile">an RLAIF-V style file (<see cref="PreferenceDatasetFile"/>), or null for none.</param>
    public static CandidateShardSource Collect(PreparedData data, string studentCheckpoint, string? datasetFile,
        MiningOptions mining, int shardSize, string stage, IStageProgress progress, CancellationToken cancellation,
        Placement? placement = null)
    {
        var figures = new Dictionary<string, double>();
        var train = new List<CandidateRow>();
        var heldOut = new List<CandidateRow>();
        if (datasetFile is not null)
        {
            var pairs = PreferenceDatasetFile.Read(datasetFile, data);
            train.AddRange(pairs);
            figures["dataset_pairs_read"] = pairs.Count;
        }
        if (mining.StudentSampled || mining.Hallucination)
        {
            using var student = Checkpoint.Load(studentCheckpoint, placement);
            var miner = new StudentPairMiner(student, data, mining);
            var mined = miner.Mine("train", data.Samples(PreparedData.LabelledSplit), data.Rows(PreparedData.LabelledSplit), mining.Prompts, stage, progress, cancellation);
            var minedHeldOut = miner.Mine("val", data.Samples("val"), data.Rows("val"), mining.HeldOutPrompts, stage, progress, cancellation);
            train.AddRange(mined.Rows);
            heldOut.AddRange(minedHeldOut.Rows);
            figures["mined_prompts"] = mined.Prompts;
            figures["mined_prompts_skipped"] = mined.Skipped;
            figures["mined_teacher_judged"] = mined.TeacherJudged;
            figures["mined_responses_with_image_token"] = mined.ResponsesWithImageToken + minedHeldOut.ResponsesWithImageToken;
            figures["heldout_prompts"] = minedHeldOut.Prompts;
            figures["heldout_prompts_skipped"] = minedHeldOut.Skipped;
        }
        if (train.Count == 0)
            throw new InvalidOperationException(
                $"{stage}: no training pair was collected ({Describe(figures)}); mine more prompts (distill.preference.prompts, " +
                "samples-per-prompt, temperature) or add a dataset file");
        return new CandidateShardSource(train, heldOut, shardSize, new CandidateBatchMeta(data.Tokenizer.Hash), data.ImageFormat.Bytes, figures);
    }

    private static string Describe(IReadOnlyDictionary<string, double> figures) => figures.Count == 0
        ? "no source is enabled"
        : string.Join(", ", figures.Select(kv => $"{kv.Key} {kv.Value}"));
}
