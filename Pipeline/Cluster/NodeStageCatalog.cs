using Distill.Actors.Cluster;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Cluster;

/// <summary>The distillation stages as a teacher node sees them: the coordinator's resolved configuration
/// (<c>&lt;run&gt;/config.resolved.conf</c>, so every node runs the same models and data) with this node's own
/// <c>-D</c> overrides on top, the run's dataset and tokenizer (read, never written), and the
/// <see cref="StageCatalog"/> built from them. Built on the first stage request; thread-safe.</summary>
public sealed class NodeStageCatalog(ConfigSources nodeSources)
{
    private readonly Lock _gate = new();
    private (string RunDir, StageCatalog Catalog)? _built;

    /// <summary>The distillation stage <see cref="StageRequest.Stage"/>; throws naming the file or stage when the run
    /// directory cannot be read or has no such stage.</summary>
    public DistillStage Resolve(StageRequest request)
    {
        lock (_gate)
        {
            if (_built is not { } built || built.RunDir != request.RunDir) _built = built = (request.RunDir, Build(request.RunDir));
            return built.Catalog.Build().FirstOrDefault(s => s.Name == request.Stage) switch
            {
                DistillStage stage => stage,
                null => throw new InvalidOperationException(
                    $"stage '{request.Stage}' is not in distill.stages of {Path.Combine(request.RunDir, RunPaths.ResolvedConfigName)}"),
                var other => throw new InvalidOperationException(
                    $"stage '{request.Stage}' is a {other.GetType().Name}, not a distillation stage; it runs on the coordinator"),
            };
        }
    }

    private StageCatalog Build(string runDir)
    {
        var resolved = Path.Combine(runDir, RunPaths.ResolvedConfigName);
        if (!File.Exists(resolved))
            throw new FileNotFoundException(
                $"{resolved} not found: a teacher node reads the run's configuration from the coordinator's run directory " +
                "(on another machine mount it at the same path, or pass --run with this machine's path)", resolved);
        LoadedConfiguration config;
        try
        {
            config = ConfigLoader.Load(nodeSources with { ConfigFile = resolved, RunDir = runDir, ClusterOverlay = true });
        }
        catch (ConfigurationErrorException e)
        {
            throw new InvalidDataException($"{resolved} with this node's overrides: {string.Join("; ", e.Errors)}", e);
        }

        var s = config.Settings;
        TorchSharp.torch.set_num_threads(s.TorchThreads > 0 ? s.TorchThreads : Environment.ProcessorCount);
        var paths = RunPaths.For(s.RunDir, s.Data.Dir);
        var tokenizer = Path.Combine(paths.Root, TeacherPretraining.TokenizerFile);
        // The coordinator wrote the dataset and tokenizer; Prepare reuses them and saves the tokenizer to a scratch
        // file, so this node never writes into the run directory.
        var scratch = Path.Combine(Path.GetTempPath(), $"distill-node-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            var prepared = RunData.Prepare(s, paths, scratch, NullStageProgress.Instance);
            return new StageCatalog(s, paths, prepared.Data, prepared.Fingerprint);
        }
        finally
        {
            File.Delete(scratch);
        }
    }
}
