using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Distill.Models.Checkpoints;
using Distill.Models.IO;
using Distill.Stages.Flow;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>The mid-stage training state of one stage, so that a run killed in the middle of a student's training
/// continues after its last finished epoch: <c>&lt;run&gt;/checkpoints/&lt;stage&gt;.partial/</c> holds
/// <c>state.json</c> (stage, fingerprint, the <see cref="TrainingState"/>, torch's RNG state, sha256 of the two other
/// files), <c>model.safetensors</c> (every tensor of the model's state dict) and <c>optimizer.bin</c> (AdamW's step
/// count and moments of every parameter and its group options, then the optimiser steps taken, which place the
/// learning-rate schedule). Every save writes a temp directory and puts it in place by renames, so a kill at any
/// moment leaves the previous complete state or the new one. A state of another stage or fingerprint (the settings,
/// data, teacher or input student it was trained with), or with a missing or altered file, is ignored with a warning:
/// the stage starts from its beginning and the state is replaced at its first saved epoch. The step deletes the state
/// when its stage completes. One store per stage; not thread-safe.</summary>
public sealed class TrainingStateStore
{
    public const string FormatVersion = "distill-training-state/v1";
    public const string StateFile = "state.json", WeightsFile = "model.safetensors", OptimizerFile = "optimizer.bin";

    /// <summary>Suffix of the state directory after the stage name (<c>mimic.partial</c>).</summary>
    public const string Suffix = ".partial";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file, not HTML: base64 '+' stays '+'
    };

    private readonly Action<string> _log;
    private string? _loaded;
    private byte[]? _rng;

    /// <param name="directory">the state directory (<see cref="DirectoryOf"/>).</param>
    /// <param name="fingerprint">hash of everything that shapes the stage's training; a state saved under another
    /// one is never used.</param>
    /// <param name="log">receives one line when a state is used or ignored (ignored: starting with "warning:").</param>
    public TrainingStateStore(string directory, string stage, string fingerprint, Action<string>? log = null)
    {
        Directory = Path.GetFullPath(directory);
        Stage = stage;
        Fingerprint = fingerprint;
        _log = log ?? (_ => { });
    }

    /// <summary><c>&lt;checkpoints&gt;/&lt;stage&gt;.partial</c>.</summary>
    public static string DirectoryOf(string checkpointsDir, string stage) => Path.Combine(checkpointsDir, stage + Suffix);

    public string Directory { get; }
    public string Stage { get; }
    public string Fingerprint { get; }

    private string Parent => Path.GetDirectoryName(Directory)!;
    private string Name => Path.GetFileName(Directory);

    /// <summary>Saves <paramref name="state"/> with the model's tensors and the optimiser's state, replacing the
    /// previous state; then reports <see cref="TrainingState.SavedPhase"/> (step = stage epoch of
    /// <paramref name="stageEpochs"/>).</summary>
    public void Save(TrainingState state, nn.Module model, Optimization optimization, IStageProgress progress, int stageEpochs)
    {
        System.IO.Directory.CreateDirectory(Parent);
        var temp = Path.Combine(Parent, $".{Name}.tmp-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(temp);
            Checkpoint.SaveWeights(model, Path.Combine(temp, WeightsFile));
            AtomicFile.Write(Path.Combine(temp, OptimizerFile), optimization.SaveState);
            using var rng = torch.get_rng_state();
            var document = new StateDocument(FormatVersion, Stage, Fingerprint, state.Phase, state.Epoch, state.StageEpoch,
                DateTimeOffset.UtcNow, Convert.ToBase64String(rng.bytes),
                new SortedDictionary<string, double>(state.Figures.ToDictionary(), StringComparer.Ordinal),
                new SortedDictionary<string, double>(state.Values.ToDictionary(), StringComparer.Ordinal),
                new SortedDictionary<string, double[]>(state.Series.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()), StringComparer.Ordinal),
                new SortedDictionary<string, string>(StringComparer.Ordinal)
                {
                    [WeightsFile] = Sha256Of(Path.Combine(temp, WeightsFile)),
                    [OptimizerFile] = Sha256Of(Path.Combine(temp, OptimizerFile)),
                });
            AtomicFile.Write(Path.Combine(temp, StateFile), s => JsonSerializer.Serialize(s, document, Json));
            Replace(temp);
        }
        finally
        {
            if (System.IO.Directory.Exists(temp)) System.IO.Directory.Delete(temp, recursive: true);
        }
        RemoveLeftovers();
        progress.Report(new StageProgress(Stage, TrainingState.SavedPhase, state.StageEpoch, stageEpochs, 0, double.NaN));
    }

    /// <summary>The saved state when there is one for this stage and fingerprint, whose files are intact and which
    /// <paramref name="check"/> (returns the problem, or null) accepts; <see cref="Restore"/> then loads it. Otherwise
    /// null, with a warning when a state was there but is not used.</summary>
    public TrainingState? Load(Func<TrainingState, string?>? check = null)
    {
        _loaded = null;
        _rng = null;
        var dir = Existing();
        if (dir is null) return null;
        TrainingState? state = null;
        string? problem;
        try
        {
            (state, problem) = Read(dir);
            problem ??= check?.Invoke(state!);
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidDataException or FormatException or UnauthorizedAccessException)
        {
            problem = e.Message;
        }
        if (problem is not null)
        {
            _log($"warning: {Stage}: ignoring the saved training state {dir}: {problem}; the stage trains from its beginning");
            return null;
        }
        _loaded = dir;
        _log($"{Stage}: continuing after epoch {state!.Epoch} of phase {state.Phase} ({state.StageEpoch} epoch(s) of the stage done) from {dir}");
        return state;
    }

    /// <summary>Loads the state <see cref="Load"/> returned into <paramref name="model"/> (strictly: every tensor, same
    /// shapes) and <paramref name="optimization"/> (made for the same parameters), and sets torch's RNG state.</summary>
    public void Restore(nn.Module model, Optimization optimization)
    {
        var dir = _loaded ?? throw new InvalidOperationException($"{Stage}: no training state was loaded to restore");
        try
        {
            Checkpoint.LoadWeights(model, Path.Combine(dir, WeightsFile));
            using (var stream = File.OpenRead(Path.Combine(dir, OptimizerFile))) optimization.LoadState(stream);
            if (_rng is not null)
            {
                using var rng = torch.tensor(_rng, dtype: ScalarType.Byte);
                torch.set_rng_state(rng);
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException(
                $"{dir}: the saved training state does not fit the {Stage} student ({e.Message}); delete that directory to train the stage from its beginning", e);
        }
    }

    /// <summary>Deletes the state (and any temp directory a kill left behind).</summary>
    public void Delete()
    {
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
        RemoveLeftovers();
        _loaded = null;
    }

    /// <summary>Puts <paramref name="temp"/> in the place of the state directory: the old one is renamed away first
    /// (a kill right between the two renames leaves it, and <see cref="Existing"/> still finds it), then deleted.</summary>
    private void Replace(string temp)
    {
        string? old = null;
        if (System.IO.Directory.Exists(Directory))
        {
            old = Path.Combine(Parent, $".{Name}.old-{Guid.NewGuid():N}");
            System.IO.Directory.Move(Directory, old);
        }
        System.IO.Directory.Move(temp, Directory);
        if (old is not null) System.IO.Directory.Delete(old, recursive: true);
    }

    /// <summary>The state directory, or, when a kill came between the renames of a save, the previous state.</summary>
    private string? Existing()
    {
        if (System.IO.Directory.Exists(Directory)) return Directory;
        if (!System.IO.Directory.Exists(Parent)) return null;
        return System.IO.Directory.EnumerateDirectories(Parent, $".{Name}.old-*")
            .Where(d => File.Exists(Path.Combine(d, StateFile)))
            .OrderByDescending(d => File.GetLastWriteTimeUtc(Path.Combine(d, StateFile)))
            .FirstOrDefault();
    }

    private void RemoveLeftovers()
    {
        if (!System.IO.Directory.Exists(Parent)) return;
        foreach (var pattern in new[] { $".{Name}.tmp-*", $".{Name}.old-*" })
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Parent, pattern))
            System.IO.Directory.Delete(dir, recursive: true);
    }

    /// <summary>The state in <paramref name="dir"/> and the reason it cannot be used (null when it can).</summary>
    private (TrainingState? State, string? Problem) Read(string dir)
    {
        var path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) return (null, $"{StateFile} is missing");
        StateDocument? d;
        using (var stream = File.OpenRead(path)) d = JsonSerializer.Deserialize<StateDocument>(stream, Json);
        if (d is null || d.Format != FormatVersion) return (null, $"{StateFile} is not a {FormatVersion} file");
        if (d.Stage != Stage) return (null, $"it was saved by stage '{d.Stage}'");
        if (d.Fingerprint != Fingerprint)
            return (null, $"it was saved with other settings, data, teacher or input student (fingerprint {d.Fingerprint}, now {Fingerprint})");
        if (d.Phase is null || d.Figures is null || d.Values is null || d.Series is null || d.Sha256 is null || d.Epoch < 1)
            return (null, $"{StateFile} lacks phase, epoch, figures, values, series or sha256");
        foreach (var file in new[] { WeightsFile, OptimizerFile })
        {
            var filePath = Path.Combine(dir, file);
            if (!File.Exists(filePath)) return (null, $"{file} is missing");
            if (!d.Sha256.TryGetValue(file, out var expected) || Sha256Of(filePath) != expected)
                return (null, $"{file} does not match its sha256 in {StateFile} (altered or truncated)");
        }
        var rng = d.TorchRng is { Length: > 0 } ? Convert.FromBase64String(d.TorchRng) : null;
        // libtorch aborts the process (no exception) on an RNG state of another size: check it before it gets there.
        using (var current = torch.get_rng_state())
            if (rng is not null && rng.Length != current.numel())
                return (null, $"its torch RNG state has {rng.Length} bytes, this libtorch's has {current.numel()}");
        _rng = rng;
        var state = new TrainingState(d.Phase, d.Epoch, d.StageEpoch, d.Figures, d.Values,
            d.Series.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value, StringComparer.Ordinal));
        return (state, null);
    }

    private static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }

    /// <summary>The JSON of <c>state.json</c>.</summary>
    private sealed record StateDocument(
        string Format,
        string Stage,
        string Fingerprint,
        string Phase,
        int Epoch,
        int StageEpoch,
        DateTimeOffset SavedUtc,
        string TorchRng,
        SortedDictionary<string, double> Figures,
        SortedDictionary<string, double> Values,
        SortedDictionary<string, double[]> Series,
        SortedDictionary<string, string> Sha256);
}
