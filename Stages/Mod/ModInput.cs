using Distill.Models.Checkpoints;

namespace Distill.Stages.Mod;

/// <summary>Which student the mod stage converts: the newest one the stages before it wrote, in the order of preference
/// student-pref &gt; student-moe &gt; student-dense, and otherwise <c>student</c> (the checkpoint of the mimic stage
/// before it wrote the dense/MoE students separately). student-mod itself is never an input.</summary>
public static class ModInput
{
    /// <summary>Checkpoint directory names under <c>&lt;run&gt;/checkpoints</c>, most preferred first.</summary>
    public static readonly IReadOnlyList<string> Candidates = ["student-pref", "student-moe", "student-dense", "student"];

    /// <summary>The first candidate under <paramref name="checkpointsDir"/> that holds a complete checkpoint (weights and
    /// config). Throws <see cref="FileNotFoundException"/> naming every directory looked at when there is none.</summary>
    public static string Newest(string checkpointsDir)
    {
        foreach (var name in Candidates)
        {
            var dir = Path.Combine(checkpointsDir, name);
            if (File.Exists(Path.Combine(dir, Checkpoint.WeightsFile)) && File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)))
                return dir;
        }
        throw new FileNotFoundException(
            $"the mod stage needs a student checkpoint (model.safetensors + config.json) in one of " +
            $"{string.Join(", ", Candidates.Select(c => Path.Combine(checkpointsDir, c)))}; none exists. " +
            "Run a student stage (mimic) before mod in distill.stages.");
    }
}
