namespace Distill.Pipeline.Bench;

/// <summary>How to start distill as a child process: the program and the arguments before the verb (by default the
/// .NET host and this distill.dll, i.e. <c>dotnet distill.dll ...</c>).</summary>
public sealed record DistillCommand(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary><c>dotnet &lt;this distill.dll&gt;</c>: the host this process runs on (or the SDK's
    /// <c>DOTNET_HOST_PATH</c>, else <c>dotnet</c> from PATH) and the assembly this type is in.</summary>
    public static DistillCommand ThisBinary() => new(DotnetHost(), [typeof(DistillCommand).Assembly.Location]);

    /// <summary>The program and every argument, as one line for the console and the report (arguments with spaces
    /// quoted).</summary>
    public string Describe(IEnumerable<string> arguments) =>
        string.Join(" ", new[] { FileName }.Concat(Prefix).Concat(arguments).Select(a => a.Contains(' ') || a.Length == 0 ? $"'{a}'" : a));

    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
