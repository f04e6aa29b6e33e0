using System.CommandLine;

namespace Distill.Pipeline.Cli;

/// <summary>The command line: <c>distill</c> (= run with the demo preset), <c>distill run ...</c>,
/// <c>distill bench models ...</c>. Each verb is a <see cref="Command"/> built by its own class (see
/// <see cref="RunVerb"/>, <see cref="BenchVerb"/>, <see cref="ReplayVerb"/>, <see cref="CacheVerb"/>, <see cref="NodeVerb"/>).</summary>
public static class DistillCli
{
    public static RootCommand Build(CliEnvironment env)
    {
        var root = new RootCommand(
            "distill: distil a vision-language teacher into a small student, as an Akka.NET dataflow pipeline.\n" +
            "Without a verb: run the whole pipeline with the demo preset (same as 'distill run').\n" +
            "The local cluster (coordinator + N teacher node processes) is started by './run.sh cluster --teachers N'.");
        root.Add(RunVerb.Create(env));
        root.Add(BenchVerb.Create(env));
        root.Add(NodeVerb.Create(env));
        root.Add(ReplayVerb.Create(env));
        root.Add(CacheVerb.Create(env));
        root.Add(ModelVerb.Create(env));
        root.Add(TokenizerVerb.Create(env));
        root.Add(StudyVerb.Create(env));
        root.SetAction((_, ct) => RunVerb.ExecuteAsync(new RunOptions(), env, ct));
        return root;
    }

    /// <summary>Parses and runs; returns the exit code (0 ok, 1 run failure, 2 bad command line or configuration,
    /// 130 cancelled). Ctrl-C / SIGTERM cancel the token passed to the verb.</summary>
    public static async Task<int> InvokeAsync(string[] args, CliEnvironment env, CancellationToken ct = default)
    {
        var root = Build(env);
        var parse = root.Parse(NormaliseDefines(args));
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) await env.Error.WriteLineAsync("distill: " + error.Message);
            await env.Error.WriteLineAsync("See 'distill --help'. Nothing was run.");
            return ExitCodes.ConfigurationError;
        }
        var invocation = new InvocationConfiguration
        {
            Output = env.Out,
            Error = env.Error,
            // Ctrl-C cancels the run's token; the pipeline gets this long to stop at a safe point.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
        };
        return await parse.InvokeAsync(invocation, ct);
    }

    /// <summary>Java-style <c>-Dkey=value</c> becomes <c>-D key=value</c>.</summary>
    public static string[] NormaliseDefines(IEnumerable<string> args) =>
        args.SelectMany(a => a.Length > 2 && a.StartsWith("-D", StringComparison.Ordinal) && a[2] != ' '
            ? new[] { "-D", a[2..] }
            : new[] { a }).ToArray();
}
