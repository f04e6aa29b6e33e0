using System.Runtime.InteropServices;

namespace Distill.Actors.Messages;

/// <summary>The exception behind a failure, carried from where it was caught (a stage's runner, a teacher worker,
/// the student host, a loader, a teacher node) to the supervisor's answer and the pipeline's result, so the run's
/// <c>logs/error.log</c> can show it. <paramref name="Type"/> is the exception type's full name,
/// <paramref name="Text"/> its <see cref="Exception.ToString"/>: type, message, stack and inner exceptions. The
/// one-line message (<see cref="OneLine"/>) travels next to it and is what the ledger records.</summary>
public sealed record ErrorDetail(string Type, string Text)
{
    public static ErrorDetail Of(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        return new ErrorDetail(ex.GetType().FullName ?? ex.GetType().Name, ex.ToString());
    }

    /// <summary>The exception's message as one line: its first non-empty line (libtorch appends a C++ backtrace to
    /// its message; that stays in <see cref="Text"/>). A native error (<see cref="ExternalException"/>, which is how
    /// TorchSharp reports libtorch's errors) says so in front of libtorch's own text. An actor that failed to start
    /// is described by the exception that stopped it.</summary>
    public static string OneLine(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (ex is Akka.Actor.ActorInitializationException { InnerException: { } inner }) ex = inner;
        var line = FirstLine(ex.Message);
        if (line.Length == 0) line = ex.GetType().Name;
        return ex.GetType() == typeof(ExternalException) ? $"libtorch: {line}" : line;
    }

    /// <summary>The first non-empty line of <paramref name="text"/>, trimmed; empty when there is none.</summary>
    public static string FirstLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.Length > 0) return trimmed;
        }
        return "";
    }
}
