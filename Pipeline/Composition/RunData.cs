using System.Security.Cryptography;
using Distill.Models.Checkpoints;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Data.Llava;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Composition;

/// <summary>The one place a run's data is prepared: the Shapes benchmark (written or reused, its word tokenizer
/// built or the teacher's), or a LLaVA-format dataset read through the teacher's tokenizer, template and image
/// processor. Bad samples of a LLaVA dataset are written to <c>logs/bad-samples.txt</c> (one per line, each once)
/// and counted in the ledger (a <c>data</c> entry) and the report.</summary>
public static class RunData
{
    public const string BadSamplesFile = "bad-samples.txt";

    /// <param name="tokenizerCopy">where the Shapes tokenizer is saved (the run's tokenizer.json; a cluster node
    /// passes a scratch file so that it never writes into the run directory).</param>
    /// <param name="ledger">where the data's figures go; null for none (a cluster node, a bench).</param>
    public static DataPreparation.Result Prepare(DistillSettings s, RunPaths paths, string tokenizerCopy, IStageProgress progress,
        RunLedger? ledger = null)
    {
        int? labelled = s.Data.LabelledImages > 0 ? s.Data.LabelledImages : null;
        if (s.Data.Llava is not { } llava)
        {
            var shapes = DataPreparation.Prepare(StageCatalog.ShapesOptionsOf(s), s.Data.Dir,
                s.Teacher.Checkpoint.Length > 0 ? Path.Combine(s.Teacher.Checkpoint, TeacherPretraining.TokenizerFile) : null,
                tokenizerCopy, ModelConfigs.ImageFeatures(s), labelled);
            _ = shapes.Data.LabelledCounts; // a labelled-images past the training images fails here, before any stage
            return shapes;
        }

        var teacher = s.Teacher.Checkpoint;
        var vlm = Checkpoint.ReadConfig(teacher).Vlm
            ?? throw new InvalidDataException($"distill.teacher.checkpoint: {teacher} is not a LLaVA model; a LLaVA dataset needs a vision-language teacher");
        var options = new LlavaDataOptions(llava.Train, llava.ImageFolder, llava.HeldOut, llava.HeldOutRatio, llava.Test, llava.Pope,
            llava.Chair, llava.ChairVocabulary, teacher, llava.ChatTemplate, llava.ImageAspect, llava.MaxLength,
            llava.SkipLongSamples ? LongSamplePolicy.Skip : LongSamplePolicy.Truncate, llava.MaxBadFraction, llava.Strict,
            vlm.ImageFeatures, s.Seed, llava.CaptionPrompt, labelled);
        Directory.CreateDirectory(paths.Logs);
        var badFile = Path.Combine(paths.Logs, BadSamplesFile);
        using var bad = new StreamWriter(badFile, append: false);
        var started = DateTime.UtcNow;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LlavaData data;
        try
        {
            data = LlavaData.Prepare(options,
                (done, total) => progress.Report(new StageProgress("data", "check", done, total, done / clock.Elapsed.TotalSeconds, double.NaN)),
                b =>
                {
                    lock (bad) { bad.WriteLine(b.ToString()); bad.Flush(); }
                    Console.Error.WriteLine($"data: bad sample: {b}");
                });
        }
        catch (Exception e) when (ledger is not null && e is BadDataException)
        {
            ledger.Append(new RunLedgerEntry("data", RunLedgerStatus.Failed, DateTime.UtcNow, clock.Elapsed.TotalSeconds, Error: e.Message));
            throw;
        }
        if (data.ImageTokenId != vlm.ImageTokenId)
            throw new InvalidDataException(
                $"{teacher}: image_token_index {vlm.ImageTokenId} is not the tokenizer's <image> id {data.ImageTokenId}");
        if (data.ImageFormat.Size != vlm.Vision.ImageSize)
            throw new InvalidDataException(
                $"{teacher}: the vision tower takes {vlm.Vision.ImageSize}-pixel images, but preprocessor_config.json gives {data.ImageFormat.Size}");
        _ = data.LabelledCounts; // a labelled-images past the training images fails here, before any stage
        ledger?.Append(new RunLedgerEntry("data", RunLedgerStatus.Completed, started, clock.Elapsed.TotalSeconds, Figures: data.Quality.Figures));
        return new DataPreparation.Result(data, Fingerprint(llava, data));
    }

    /// <summary>A hash of the data files' contents, the tokenizer, the processor and the reading options (the images
    /// are not hashed: renaming or editing one in place is not noticed).</summary>
    private static string Fingerprint(LlavaDataSettings l, LlavaData data)
    {
        var files = new[] { l.Train, l.HeldOut, l.Test, l.Pope, l.Chair, l.ChairVocabulary }
            .Select(f => f is null ? "-" : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
        return Stages.Training.Fingerprint.Of("llava-data/v1", string.Join(",", files), data.Tokenizer.Hash, data.TemplateName,
            data.ImageFormat.Size, string.Join(",", data.ImageFormat.Mean), string.Join(",", data.ImageFormat.Std), l.ImageFolder,
            l.HeldOutRatio, l.ImageAspect, l.MaxLength, l.SkipLongSamples, l.CaptionPrompt, data.ImageTokens);
    }
}
