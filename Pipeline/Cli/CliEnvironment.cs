using Distill.Pipeline.Composition;

namespace Distill.Pipeline.Cli;

/// <summary>What the CLI talks to: output streams, the pipeline, the clock and the working directory. Tests
/// pass their own; <see cref="FromConsole"/> is the real one.</summary>
public sealed record CliEnvironment(TextWriter Out, TextWriter Error, PipelineRunner Runner)
{
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Base for relative run directories (<c>runs/...</c>); null = the current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Progress colour: null = detect on the console; tests force plain text.</summary>
    public bool? Colour { get; init; }

    /// <summary>Where progress lines go; null = the console.</summary>
    public TextWriter? ProgressOutput { get; init; }

    /// <summary>The pipeline on the coordinator node of a cluster (<c>distill node --role coordinator</c>).</summary>
    public PipelineRunner ClusterRunner { get; init; } = Cluster.CoordinatorHosting.RunAsync;

    /// <summary>How verbs that run distill in child processes (<c>bench soak</c>) start it: <c>dotnet distill.dll</c>.</summary>
    public Bench.DistillCommand DistillCommand { get; init; } = Bench.DistillCommand.ThisBinary();

    public static CliEnvironment FromConsole() => new(Console.Out, Console.Error, PipelineHost.RunAsync);
}
