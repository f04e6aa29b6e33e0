using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Distill.Actors;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Reporting;
using Distill.Pipeline.Runs;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Pipeline;

/// <summary>The composition root: prepares the data and tokenizer, builds the stages of
/// <see cref="DistillSettings.Stages"/>, runs them under the supervisor in an ActorSystem, then writes the report.</summary>
public static class PipelineHost
{
    /// <summary>Runs the pipeline. When called: the configuration is valid; <paramref name="paths"/> exists with
    /// checkpoints/ and logs/ created and config.resolved.conf written; <see cref="DistillSettings.RunDir"/> and
    /// <see cref="DataSettings.Dir"/> are absolute. <paramref name="progress"/> is thread-safe and already forwards
    /// every update to <see cref="RunPaths.Metrics"/>. Returns the exit code (0 ok, 1 a stage failed) and, when a stage
    /// failed, which one, its error and the exception behind it. An exception before the stages (data preparation,
    /// building the stages, starting the actors) or after them (the report) escapes tagged with its step
    /// (<see cref="StartupStep"/>).</summary>
    public static Task<RunOutcome> RunAsync(DistillSettings settings, RunPaths paths, IStageProgress progress, CancellationToken ct) =>
        RunAsync(settings, paths, progress, ct, ActorHosting.SingleProcess);

    /// <summary>Runs the pipeline on the actors <paramref name="hosting"/> starts (one process, or the coordinator
    /// node of a cluster).</summary>
    public static Task<RunOutcome> RunAsync(DistillSettings settings, RunPaths paths, IStageProgress progress,
        CancellationToken ct, ActorHosting hosting) =>
        RunAsync(settings, paths, progress, ct, hosting, stages => stages);

    /// <summary>Runs the pipeline with every stage definition passed through <paramref name="instrument"/> first (the
    /// pipeline benchmark wraps the teacher and student steps of each distillation stage to time them).</summary>
    public static async Task<RunOutcome> RunAsync(DistillSettings settings, RunPaths paths, IStageProgress progress,
        CancellationToken ct, ActorHosting hosting, Func<IReadOnlyList<StageDefinition>, IReadOnlyList<StageDefinition>> instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        var clock = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        TorchSharp.torch.set_num_threads(settings.TorchThreads > 0 ? settings.TorchThreads : Environment.ProcessorCount);

        DataPreparation.Result prepared;
        try
        {
            progress.Report(new StageProgress("data", "prepare", 0, 1, 0, double.NaN));
            prepared = RunData.Prepare(settings, paths, Path.Combine(paths.Root, TeacherPretraining.TokenizerFile), progress,
                new Distill.Stages.Runs.RunLedger(paths.Ledger));
            progress.Report(new StageProgress("data", "prepare", 1, 1, 0, double.NaN));
        }
        catch (Exception e) when (StartupStep.Tag(e, "data preparation"))
        {
            throw;
        }

        StageCatalog catalog;
        FlowSettings flow;
        IReadOnlyList<StageDefinition> stages;
        try
        {
            catalog = new StageCatalog(settings, paths, prepared.Data, prepared.Fingerprint) { Progress = progress, Cancellation = ct };
            catalog.CheckStudentInit();
            flow = new FlowSettings
            {
                Loaders = settings.Parallelism.Loaders,
                TeacherWorkers = settings.Parallelism.TeacherWorkers,
                CreditWindow = settings.Parallelism.CreditWindow,
                MaxBatchBytes = settings.Transport.MaxBatchBytes,
                StrictOrder = settings.Cache.StrictOrder,
            }.Validate();
            stages = instrument(StageCaches.Attach(StageMemory.Attach(catalog.Build()), settings, paths, () => catalog.TeacherFingerprint,
                prepared.Data.Tokenizer.Hash, prepared.Fingerprint));
        }
        catch (Exception e) when (StartupStep.Tag(e, "building the stages"))
        {
            throw;
        }

        ActorSystem system;
        FlowSettings hostedFlow;
        try
        {
            (system, hostedFlow) = await hosting.StartAsync(settings, paths, flow, ct);
        }
        catch (Exception e) when (StartupStep.Tag(e, "starting the actors"))
        {
            throw;
        }
        using var _ = system;
        Distill.Actors.PipelineResult result;
        try
        {
            result = await Distill.Actors.PipelineRunner.RunAsync(system, stages, hostedFlow, paths.Ledger, progress, ct);
        }
        finally
        {
            await system.Terminate();
        }

        try
        {
            WriteReport(settings, paths, hosting, catalog, prepared, result, started, clock.Elapsed);
        }
        catch (Exception e) when (!result.Succeeded)
        {
            // The stage's failure is what the run ended with; the report's is added to its message.
            return new RunOutcome(1, new RunFailure(result.FailedStage ?? "(pipeline)",
                $"{result.Error} (and writing the report failed: {Distill.Actors.Messages.ErrorDetail.OneLine(e)})", result.Detail));
        }
        catch (Exception e) when (StartupStep.Tag(e, "writing the report"))
        {
            throw;
        }
        if (result.Succeeded)
        {
            Console.Out.WriteLine($"Pipeline finished in {ReportWriter.Duration(clock.Elapsed)}. Report: {paths.Report}");
            return RunOutcome.Ok;
        }
        return new RunOutcome(1, new RunFailure(result.FailedStage ?? "(pipeline)", result.Error ?? "", result.Detail));
    }

    /// <summary>How much of the training split the students see labelled (<c>distill.data.labelled-images</c>).</summary>
    private static IEnumerable<KeyValuePair<string, string>> LabelledLine(Distill.Stages.Workspace.PreparedData data)
    {
        if (data.LabelledImages is not { } images) yield break;
        var (labelled, train) = data.LabelledCounts;
        yield return new("Students' labels", $"{labelled} of the {train} training samples ({images} images); the other {train - labelled} are " +
            $"prompts the teacher answers for mimic and mod; sft trains on the {labelled} for {Distill.Stages.Students.SftStudent.BudgetFactor(data)}x the epochs (as many optimiser steps)");
    }

    private static void WriteReport(DistillSettings settings, RunPaths paths, ActorHosting hosting, StageCatalog catalog,
        DataPreparation.Result prepared, Distill.Actors.PipelineResult result, DateTimeOffset started, TimeSpan elapsed)
    {
        IReadOnlyList<MetricPoint> metrics = [];
        string? metricsError = null;
        try
        {
            metrics = MetricsCsv.Read(paths.Metrics);
        }
        catch (InvalidDataException e)
        {
            metricsError = e.Message; // the report is still written, without loss curves, and says why
        }
        var report = new ReportInput(
            Path.GetFileName(paths.Root), started, elapsed,
            EvaluationStage.ReadResults(catalog.EvalDir),
            result.Stages.Select(r => new StageSummary(r.Stage, TimeSpan.FromSeconds(r.WallSeconds), r.Outcome.Figures)).ToList())
        {
            Summary =
            [
                new("Stages", string.Join(" -> ", settings.Stages)),
                new("Dataset", $"{prepared.Data.Samples("train").Count} train / {prepared.Data.Samples("val").Count} val / {prepared.Data.Samples("test").Count} test samples ({prepared.Fingerprint[..12]})"),
                .. LabelledLine(prepared.Data),
                new("Tokenizer", $"{prepared.Data.Tokenizer.VocabSize} tokens"),
                .. DataQualityLine(prepared.Data, paths),
                new("Device", catalog.Device.type.ToString().ToLowerInvariant()),
                new("Actors", hosting.Describe()),
                new("Teacher-output cache", settings.Cache.Mode == Distill.Stages.Cache.CacheMode.Off ? "off"
                    : $"{Distill.Stages.Cache.CacheModes.Name(settings.Cache.Mode)}, {StageCaches.RootOf(settings, paths.Root)}" +
                      (settings.Cache.StrictOrder ? ", strict shard order" : "")),
                new("Status", result.Succeeded ? "completed" : $"FAILED in stage {result.FailedStage}: {result.Error}"),
                .. ExportLine(catalog.ExportDir),
                .. (metricsError is null ? [] : new KeyValuePair<string, string>[] { new("Loss curves", $"not drawn: {metricsError}") }),
            ],
            Metrics = metrics,
            RealData = prepared.Data is Distill.Stages.Workspace.LlavaData,
        };
        ReportWriter.Write(paths.Report, report);
        RunFigures.Write(paths.Figures, RunFigures.Of(report.Results, report.Stages, report.Total));
    }

    /// <summary>"Data quality: ..." for a LLaVA dataset: samples read, bad ones (and where they are listed), cut, left out.</summary>
    private static IEnumerable<KeyValuePair<string, string>> DataQualityLine(Distill.Stages.Workspace.PreparedData data, RunPaths paths) =>
        data is Distill.Stages.Workspace.LlavaData { Quality: var q }
            ? [new("Data quality", $"{q.Read} samples read, {q.Bad.Count} bad (skipped; listed in logs/{RunData.BadSamplesFile}), " +
                $"{q.Truncated} cut to distill.data.max-length, {q.TextOnly} text-only left out")]
            : [];

    /// <summary>"Export: ..." when the eval stage exported the final student.</summary>
    private static IEnumerable<KeyValuePair<string, string>> ExportLine(string exportDir) =>
        StudentExport.Describe(exportDir) is { } line ? [new("Export", $"{Path.GetFileName(exportDir)}/ in the run directory. {line}")] : [];
}
