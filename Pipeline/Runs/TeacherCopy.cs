using Distill.Pipeline.Configuration;
using Distill.Stages.Training;

namespace Distill.Pipeline.Runs;

/// <summary>Copies a finished run's trained teacher (weights, config, tokenizer, fingerprint) into another run, whose
/// <c>teacher</c> stage then finds it by fingerprint and loads nothing (replay, the pipeline benchmark).</summary>
public static class TeacherCopy
{
    /// <summary>Copies <c>&lt;source&gt;/checkpoints/teacher</c> into <paramref name="paths"/>, unless the configuration
    /// names an external teacher checkpoint or the target already has it. Throws <see cref="FileNotFoundException"/>
    /// when the source has no finished teacher.</summary>
    public static void Into(DistillSettings settings, string source, RunPaths paths)
    {
        if (settings.Teacher.Checkpoint.Length > 0) return;
        var from = Path.Combine(source, "checkpoints", "teacher");
        var to = Path.Combine(paths.Checkpoints, "teacher");
        if (!File.Exists(Path.Combine(from, TeacherPretraining.FingerprintFile)))
            throw new FileNotFoundException($"run {source} has no finished teacher ({Path.Combine(from, TeacherPretraining.FingerprintFile)} is missing): " +
                                            "the run needs its vision tower and fingerprint");
        if (File.Exists(Path.Combine(to, TeacherPretraining.FingerprintFile))) return;
        // Inside the target run (claimed at start-up): what may be replaced is a copy cut short before its fingerprint file.
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
