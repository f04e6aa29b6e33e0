using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>The mid-stage training state on disk: what is saved comes back exactly (figures, model, AdamW moments and
/// step counts, schedule position, RNG), a save replaces the previous state without leaving temp directories, and a
/// state of another stage, fingerprint or with an altered file is ignored with a warning, never used.</summary>
public sealed class TrainingStateStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<string> _log = new();

    public void Dispose() => _dir.Dispose();

    private TrainingStateStore Store(string fingerprint = "fp-a", string stage = "mimic") =>
        new(TrainingStateStore.DirectoryOf(_dir.File("checkpoints"), stage), stage, fingerprint, _log.Add);

    private static readonly TrainOptions Train = new(Epochs: 1, BatchSize: 4, LearningRate: 0.1, WeightDecay: 0.01, WarmupSteps: 2, Seed: 1);

    private static Linear NewModel(int seed)
    {
        manual_seed(seed);
        return nn.Linear(3, 2);
    }

    /// <summary>One optimiser step on a fixed batch: loss = sum((W x + b)^2).</summary>
    private static void Step(Linear model, Optimization optimization)
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, -2, 0.5f, 0.3f, 0.2f, -1 }, [2, 3]);
        optimization.Step(model.forward(x).pow(Scalars.Of(2L)).sum());
    }

    private static TrainingState State(int epoch) => new("d2d", epoch, epoch + 1,
        new Dictionary<string, double> { ["warmup_loss_first"] = 1.25, ["warmup_heldout_first"] = double.NaN },
        new Dictionary<string, double> { ["samples"] = 96 },
        new Dictionary<string, IReadOnlyList<double>> { ["epoch_loss"] = [2.5, 0.1 + 0.2] });

    [Fact]
    public void A_saved_state_comes_back_exactly_and_the_next_step_is_the_one_that_would_have_followed()
    {
        using var model = NewModel(1);
        using var optimization = new Optimization(model.parameters(), Train, totalSteps: 10);
        for (int i = 0; i < 3; i++) Step(model, optimization);
        var progress = new RecordingProgress();
        var store = Store();
        store.Save(State(1), model, optimization, progress, stageEpochs: 5);
        Assert.Equal(new StageProgress("mimic", TrainingState.SavedPhase, 2, 5, 0, double.NaN), Assert.Single(progress.Reports));
        Assert.Equal([TrainingStateStore.WeightsFile, TrainingStateStore.OptimizerFile, TrainingStateStore.StateFile],
            Directory.GetFiles(store.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Single(Directory.GetFileSystemEntries(_dir.File("checkpoints")));    // no temp directory left

        Step(model, optimization);                                                  // the run that did not stop
        Step(model, optimization);

        using var fresh = NewModel(2);
        using var freshOptimization = new Optimization(fresh.parameters(), Train, totalSteps: 10);
        var loaded = Store().Load();
        Assert.NotNull(loaded);
        Assert.Equal(("d2d", 1, 2), (loaded.Phase, loaded.Epoch, loaded.StageEpoch));
        Assert.Equal(1.25, loaded.Figures["warmup_loss_first"]);
        Assert.True(double.IsNaN(loaded.Figures["warmup_heldout_first"]));
        Assert.Equal(96, loaded.Values["samples"]);
        Assert.Equal([2.5, 0.1 + 0.2], loaded.Series["epoch_loss"]);               // bit-exact doubles
        Assert.Equal("mimic: continuing after epoch 1 of phase d2d (2 epoch(s) of the stage done) from " + Store().Directory, Assert.Single(_log));

        var restoreStore = Store();
        restoreStore.Load();
        restoreStore.Restore(fresh, freshOptimization);
        Assert.Equal(3, freshOptimization.StepsTaken);                              // the schedule's position
        Step(fresh, freshOptimization);
        Step(fresh, freshOptimization);
        Assert.Equal(optimization.GroupLearningRates, freshOptimization.GroupLearningRates);
        foreach (var ((name, a), (_, b)) in model.named_parameters().Zip(fresh.named_parameters()))
            Assert.True(a.data<float>().ToArray().SequenceEqual(b.data<float>().ToArray()), $"{name} differs after the resumed steps");
    }

    [Fact]
    public void The_RNG_state_is_restored()
    {
        using var model = NewModel(1);
        using var optimization = new Optimization(model.parameters(), Train, totalSteps: 10);
        manual_seed(42);
        Store().Save(State(1), model, optimization, NullStageProgress.Instance, 5);
        float[] expected;
        using (var draw = torch.rand(4)) expected = draw.data<float>().ToArray();
        manual_seed(7);
        var store = Store();
        Assert.NotNull(store.Load());
        store.Restore(model, optimization);
        using var again = torch.rand(4);
        Assert.Equal(expected, again.data<float>().ToArray());
    }

    [Fact]
    public void No_state_is_no_resume_and_no_message()
    {
        Assert.Null(Store().Load());
        Assert.Empty(_log);
    }

    [Theory]
    [InlineData("fingerprint", "it was saved with other settings, data, teacher or input student (fingerprint fp-a, now fp-b)")]
    [InlineData("stage", "it was saved by stage 'mimic'")]
    [InlineData("altered", "optimizer.bin does not match its sha256 in state.json (altered or truncated)")]
    [InlineData("missing", "model.safetensors is missing")]
    [InlineData("check", "epoch 1 of phase 'd2d' is not in this schedule")]
    [InlineData("rng", "its torch RNG state has 10 bytes, this libtorch's has 5056")]
    public void A_state_that_does_not_match_is_ignored_with_a_warning(string what, string reason)
    {
        using var model = NewModel(1);
        using var optimization = new Optimization(model.parameters(), Train, totalSteps: 10);
        var saved = Store();
        saved.Save(State(1), model, optimization, NullStageProgress.Instance, 5);
        var store = Store();
        switch (what)
        {
            case "fingerprint":
                store = Store("fp-b");
                break;
            case "stage":
                Directory.Move(saved.Directory, TrainingStateStore.DirectoryOf(_dir.File("checkpoints"), "sft"));
                store = Store(stage: "sft");
                break;
            case "altered":
                var path = Path.Combine(saved.Directory, TrainingStateStore.OptimizerFile);
                var bytes = File.ReadAllBytes(path);
                bytes[^3] ^= 0x40;
                File.WriteAllBytes(path, bytes);
                break;
            case "missing":
                File.Delete(Path.Combine(saved.Directory, TrainingStateStore.WeightsFile));
                break;
            case "rng": // set_rng_state with this would abort the process
                var statePath = Path.Combine(saved.Directory, TrainingStateStore.StateFile);
                var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(statePath))!;
                var key = json.AsObject().Single(p => p.Value is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 1000).Key;
                json[key] = Convert.ToBase64String(new byte[10]);
                File.WriteAllText(statePath, json.ToJsonString());
                break;
        }
        Assert.Null(store.Load(what == "check" ? _ => "epoch 1 of phase 'd2d' is not in this schedule" : null));
        var line = Assert.Single(_log);
        Assert.StartsWith($"warning: {store.Stage}: ignoring the saved training state {store.Directory}: {reason}", line);
        Assert.EndsWith("the stage trains from its beginning", line);
        Assert.Throws<InvalidOperationException>(() => store.Restore(model, optimization)); // nothing to restore
    }

    [Fact]
    public void A_kill_between_the_renames_of_a_save_leaves_the_previous_state_which_is_used()
    {
        using var model = NewModel(1);
        using var optimization = new Optimization(model.parameters(), Train, totalSteps: 10);
        var store = Store();
        store.Save(State(1), model, optimization, NullStageProgress.Instance, 5);
        // What a kill right after the first rename of the next save leaves: only the renamed previous state.
        var old = Path.Combine(_dir.File("checkpoints"), ".mimic.partial.old-0123");
        Directory.Move(store.Directory, old);

        Assert.Equal(1, Store().Load()?.Epoch);
        store.Save(State(2), model, optimization, NullStageProgress.Instance, 5);
        Assert.Equal(2, Store().Load()?.Epoch);
        Assert.Equal(["mimic.partial"], Directory.GetDirectories(_dir.File("checkpoints")).Select(Path.GetFileName));

        store.Delete();
        Assert.Empty(Directory.GetFileSystemEntries(_dir.File("checkpoints")));
        Assert.Null(Store().Load());
    }

    [Fact]
    public void A_state_for_other_parameters_fails_naming_the_directory()
    {
        using var model = NewModel(1);
        using var optimization = new Optimization(model.parameters(), Train, totalSteps: 10);
        Store().Save(State(1), model, optimization, NullStageProgress.Instance, 5);
        manual_seed(3);
        using var other = nn.Linear(4, 2);
        using var otherOptimization = new Optimization(other.parameters(), Train, totalSteps: 10);
        var store = Store();
        Assert.NotNull(store.Load());
        var e = Assert.Throws<InvalidDataException>(() => store.Restore(other, otherOptimization));
        Assert.Contains(store.Directory, e.Message);
        Assert.Contains("delete that directory", e.Message);
    }
}
