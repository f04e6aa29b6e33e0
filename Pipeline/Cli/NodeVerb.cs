using System.CommandLine;
using Distill.Pipeline.Cluster;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Cli;

/// <summary>Options of <c>distill node</c>.</summary>
public sealed record NodeOptions
{
    public string Role { get; init; } = NodeVerb.TeacherRole;
    public ConfigSources Sources { get; init; } = new();

    /// <summary>Teacher nodes: the coordinator's address; null = <c>distill.cluster.seed</c>.</summary>
    public string? Seed { get; init; }

    /// <summary>Teacher nodes: the node's number (port = base-port + index).</summary>
    public int Index { get; init; }
}

/// <summary><c>distill node --role coordinator|teacher</c>: one node of a cluster run (hocon/cluster.conf layered over
/// the preset). The coordinator runs the pipeline like <c>distill run</c> and is the cluster's seed; a teacher node
/// joins it (<c>--seed</c>) and runs loaders and teacher workers for its distillation stages.
/// <c>./run.sh cluster --teachers N</c> starts one coordinator and N teacher nodes on this machine.</summary>
public static class NodeVerb
{
    public const string CoordinatorRole = "coordinator";
    public const string TeacherRole = "teacher";
    public static readonly IReadOnlyList<string> Roles = [CoordinatorRole, TeacherRole];

    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions(
            "coordinator: run directory (as for 'run'); teacher: the coordinator's run directory as this machine sees it " +
            "(default: the path the coordinator announces)");
        var role = new Option<string>("--role")
        {
            Description = "coordinator (runs the pipeline, the cluster's seed) or teacher (loaders and teacher workers)",
            HelpName = "ROLE",
            Required = true,
        };
        role.AcceptOnlyFromAmong([.. Roles]);
        var seed = new Option<string?>("--seed")
        {
            Description = $"teacher: the coordinator's address, {ClusterAddress.Of("HOST", 4053)} (akka.tcp://... with distill.cluster.insecure = true; default distill.cluster.seed)",
            HelpName = "ADDRESS",
        };
        var index = new Option<int>("--index")
        {
            Description = "teacher: this node's number; it listens on distill.cluster.teacher.base-port + index (when that is not 0)",
            HelpName = "N",
            DefaultValueFactory = _ => 0,
        };
        index.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError("--index must be 0 or more.");
        });

        var command = new Command("node",
            "Run one node of a cluster: --role coordinator runs the pipeline as the cluster's seed, --role teacher joins " +
            "it (--seed) and runs teachers for its distillation stages ('./run.sh cluster' starts both on this machine)");
        options.AddTo(command);
        command.Add(role);
        command.Add(seed);
        command.Add(index);
        command.SetAction((parse, ct) => ExecuteAsync(new NodeOptions
        {
            Role = parse.GetValue(role)!,
            Sources = options.SourcesOf(parse),
            Seed = parse.GetValue(seed),
            Index = parse.GetValue(index),
        }, env, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(NodeOptions options, CliEnvironment env, CancellationToken ct)
    {
        if (options.Role == CoordinatorRole)
        {
            if (options.Seed is not null)
            {
                await env.Error.WriteLineAsync("distill: --seed is for teacher nodes; the coordinator is the cluster's seed. Nothing was run.");
                return ExitCodes.ConfigurationError;
            }
            var sources = options.Sources;
            return await RunVerb.ExecuteAsync(new RunOptions
            {
                Preset = sources.Preset,
                ConfigFile = sources.ConfigFile,
                Defines = sources.Overrides,
                RunDir = sources.RunDir,
                ClusterOverlay = true,
            }, env with { Runner = env.ClusterRunner }, ct);
        }
        return await TeacherNodeHost.RunAsync(options, env, ct);
    }
}
