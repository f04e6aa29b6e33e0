namespace Distill.Pipeline.Cli;

/// <summary>Process exit codes of distill.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The run started and failed.</summary>
    public const int RunFailed = 1;
    /// <summary>Bad command line or configuration; nothing was run.</summary>
    public const int ConfigurationError = 2;
    /// <summary>Interrupted (Ctrl-C / SIGTERM).</summary>
    public const int Cancelled = 130;
}
