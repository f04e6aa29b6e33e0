using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Pipeline.Composition;
using Distill.Stages.Training;
using TorchSharp;

namespace Distill.Pipeline.Tests;

/// <summary>The fingerprint a mid-stage training state is kept under: it follows every setting that shapes a
/// student's training and the checkpoint the student starts from, not where or how the run executes.</summary>
public class TrainingStatesTests
{
    private static string FingerprintOf(string stage, string input, params string[] defines) =>
        TrainingStates.FingerprintOf(stage, Cfg.Load("tiny", null, defines).Settings, "data-fp", "teacher-fp", "tokenizer-hash", [input]);

    [Fact]
    public void The_fingerprint_follows_the_training_settings_and_the_input_checkpoint_not_the_place_of_the_run()
    {
        using var t = new TempDir();
        var input = Path.Combine(t.Path, "student");
        torch.manual_seed(1);
        var config = new VlmConfig(new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" }, new DecoderConfig(20, 16, 32, 1, 2, 1, MaxPositions: 32), 3)
        { VisionFeatureLayer = -1 };
        using (var model = new VisionLanguageModel(config)) Checkpoint.Save(model, input);

        var fingerprint = FingerprintOf("mimic", input);
        Assert.Equal(16, fingerprint.Length);
        Assert.Equal(fingerprint, FingerprintOf("mimic", input,
            "distill.run-dir=elsewhere", "distill.stages=[teacher, mimic]", "distill.torch-threads=1", "distill.parallelism.loaders=1",
            "distill.parallelism.teacher-workers=1", "distill.parallelism.credit-window=7", "distill.cache.mode=replay",
            "distill.cache.strict-order=on"));
        foreach (var define in new[]
                 {
                     "distill.mimic.learning-rate=0.002", "distill.mimic.d2d-epochs=2", "distill.mimic.batch-size=8",
                     "distill.model.student.layers=2", "distill.seed=3", "distill.parallelism.shard-size=8", "distill.teacher.top-k=4",
                     "distill.preference.beta=0.2", "distill.mod.skip-ratio=0.5",
                 })
            Assert.True(fingerprint != FingerprintOf("mimic", input, define), $"{define} does not change the fingerprint");
        Assert.NotEqual(fingerprint, FingerprintOf("sft", input));
        Assert.NotEqual(fingerprint, TrainingStates.FingerprintOf("mimic", Cfg.Load("tiny").Settings, "data-fp", "other-teacher",
            "tokenizer-hash", [input]));

        // The same path with other weights (a later run rewrote the student the stage continues) is another state.
        torch.manual_seed(2);
        using (var model = new VisionLanguageModel(config)) Checkpoint.Save(model, input);
        Assert.NotEqual(fingerprint, FingerprintOf("mimic", input));
    }
}
