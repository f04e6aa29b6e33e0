namespace Distill.Pipeline.Runs;

/// <summary>Absolute paths of one run directory. <see cref="Data"/> may lie outside <see cref="Root"/> when
/// <c>distill.data.dir</c> is set.</summary>
public sealed record RunPaths(
    string Root,
    string Data,
    string Checkpoints,
    string Metrics,
    string Ledger,
    string Report,
    string Logs,
    string ResolvedConfig)
{
    public const string ResolvedConfigName = Stages.Workspace.OwnedFolder.ResolvedConfigFile;

    /// <summary>The exported final student (the eval stage writes it).</summary>
    public string Export => Path.Combine(Root, "export");

    /// <summary>The TensorBoard event files of the run's metrics (<c>tensorboard --logdir runs/</c>).</summary>
    public string TensorBoard => Path.Combine(Root, "tensorboard");

    /// <summary>The run's outcome as flat figures (<see cref="Reporting.RunFigures"/>), written with the report.</summary>
    public string Figures => Path.Combine(Root, Reporting.RunFigures.File);

    /// <summary>Where a distillation stage keeps the batches its later epochs replay (removed when the stage is done).</summary>
    public string KeptShardsOf(string stage) => Path.Combine(Root, "kept", stage);

    /// <summary>The paths of a run rooted at <paramref name="root"/> (nothing is created).</summary>
    public static RunPaths For(string root, string? dataDir = null)
    {
        root = Path.GetFullPath(root);
        return new RunPaths(
            Root: root,
            Data: string.IsNullOrEmpty(dataDir) ? Path.Combine(root, "data") : Path.GetFullPath(dataDir),
            Checkpoints: Path.Combine(root, "checkpoints"),
            Metrics: Path.Combine(root, "metrics.csv"),
            Ledger: Path.Combine(root, "ledger.jsonl"),
            Report: Path.Combine(root, "report.md"),
            Logs: Path.Combine(root, "logs"),
            ResolvedConfig: Path.Combine(root, ResolvedConfigName));
    }
}
