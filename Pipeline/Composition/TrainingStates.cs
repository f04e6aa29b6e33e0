using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Distill.Models.Checkpoints;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Training;

namespace Distill.Pipeline.Composition;

/// <summary>Gives every student step its mid-stage training state, <c>&lt;run&gt;/checkpoints/&lt;stage&gt;.partial</c>
/// (<see cref="TrainingStateStore"/>), under a fingerprint of everything that shapes the stage's training: the stage,
/// every setting except where and how the run executes (<see cref="PlaceOnly"/>), the data, the teacher, the tokenizer
/// and the content of the checkpoints the student starts from. A state saved under another fingerprint is ignored
/// with a warning. Lines about states go to standard error and to <c>logs/resume.log</c>.</summary>
public sealed class TrainingStates(DistillSettings settings, RunPaths paths, string dataFingerprint, string tokenizerHash)
{
    /// <summary>Settings that never change what a student learns: where the run and its data live, which stages run,
    /// threads and device, loaders / workers / credits, transport, cluster and cache settings.</summary>
    private static readonly Regex PlaceOnly = new(
        @"^(RunDir|Stages|TorchThreads|Device|Data\.Dir|Parallelism\.(Loaders|TeacherWorkers|CreditWindow)|" +
        @"Transport(\..*)?|Cluster(\..*)?|Cache(\..*)?)$",
        RegexOptions.CultureInvariant);

    /// <summary>The store of <paramref name="stage"/>; <paramref name="inputCheckpoints"/> are the checkpoint
    /// directories the student reads (the teacher for its vision tower, the student it continues).</summary>
    public TrainingStateStore For(string stage, string teacherFingerprint, params string[] inputCheckpoints) =>
        new(TrainingStateStore.DirectoryOf(paths.Checkpoints, stage), stage,
            FingerprintOf(stage, settings, dataFingerprint, teacherFingerprint, tokenizerHash, inputCheckpoints), Log);

    public static string FingerprintOf(string stage, DistillSettings settings, string dataFingerprint, string teacherFingerprint,
        string tokenizerHash, IEnumerable<string> inputCheckpoints) =>
        Fingerprint.Of(TrainingStateStore.FormatVersion, stage, dataFingerprint, teacherFingerprint, tokenizerHash,
            string.Join(",", inputCheckpoints.Select(ContentOf)), SettingsLines.Of(settings, PlaceOnly));

    /// <summary>sha256 of a checkpoint's config and weights (the weights may be replaced in place by a later run).</summary>
    private static string ContentOf(string checkpointDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { Checkpoint.ConfigFile, Checkpoint.WeightsFile })
        {
            var path = Path.Combine(checkpointDir, file);
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the checkpoint a student starts from is missing", path);
            using var stream = File.OpenRead(path);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, read);
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    private void Log(string line)
    {
        var stamped = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {line}";
        Console.Error.WriteLine($"distill: {line}");
        try
        {
            Directory.CreateDirectory(paths.Logs);
            File.AppendAllText(Path.Combine(paths.Logs, "resume.log"), stamped + Environment.NewLine);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"distill: warning: cannot write {Path.Combine(paths.Logs, "resume.log")}: {e.Message}");
        }
    }
}
