using System.Text;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.IO;
using Distill.Models.Torch;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Mod;

/// <summary>The conversion plan of the mod stage (gamma-MoD, DESIGN 5.4): loads the input student (vision tower
/// frozen, on the device; a MoD student is refused), measures the ARank of every decoder layer on the first
/// <c>calibration-samples</c> training rows in a seeded shuffle, chooses the layers (<see cref="ModLayerSelection"/>),
/// writes the plan as JSON, and converts those layers around one shared router drawn from the seeded RNG, so the
/// converted-but-untrained student can be rebuilt exactly (<see cref="NewConverted"/>).</summary>
public sealed class ModConverter
{
    private readonly string _inputCheckpoint;
    private readonly ModOptions _options;
    private readonly PreparedData _data;
    private readonly Placement? _placement;

    public ModConverter(string inputCheckpoint, ModOptions options, PreparedData data, Placement? placement)
    {
        _inputCheckpoint = inputCheckpoint;
        _options = options;
        _data = data;
        _placement = placement;
    }

    /// <summary>Every layer's ARank and the layers converted; set by <see cref="Plan"/>.</summary>
    public ModPlan? Chosen { get; private set; }

    /// <summary>The input student, vision tower frozen, on the device. Refuses a model that is MoD already.</summary>
    public VisionLanguageModel LoadInput()
    {
        var model = Checkpoint.Load(_inputCheckpoint);
        if (model.Config.Text.Mod is not null)
        {
            model.Dispose();
            throw new InvalidDataException($"{_inputCheckpoint}: the student is MoD already ({model.Config.Text.Mod}); the mod stage converts a dense or MoE student.");
        }
        model.FreezeVisionTower();
        return model.Place(_placement);
    }

    /// <summary>Measures ARank on <paramref name="input"/>, chooses the layers and writes the plan to
    /// <paramref name="planPath"/>.</summary>
    public ModPlan Plan(VisionLanguageModel input, string planPath)
    {
        var calibration = CalibrationRows();
        var aRank = AttentionRank.Measure(input, calibration, _data.ImageFormat, _data.PadId, _options.Train.BatchSize);
        Chosen = ModLayerSelection.Select(aRank, _options.KeepFirst, _options.KeepLast, _options.TargetFraction)
            with { CalibrationSamples = calibration.Count, InputCheckpoint = _inputCheckpoint };
        AtomicFile.WriteAllBytes(planPath, Encoding.UTF8.GetBytes(Chosen.ToJson()));
        return Chosen;
    }

    /// <summary>Converts the plan's layers of <paramref name="model"/> with a router drawn from the seeded RNG.</summary>
    public void Convert(VisionLanguageModel model)
    {
        var plan = Chosen ?? throw new InvalidOperationException("no plan yet: call Plan first");
        manual_seed(_options.Train.Seed);
        model.ConvertToMod(_options.ConfigFor(plan.Converted));
    }

    /// <summary>The input student converted by the plan, before any training.</summary>
    public VisionLanguageModel NewConverted()
    {
        var model = LoadInput();
        try
        {
            Convert(model);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The first <c>calibration-samples</c> training rows in a seeded shuffle.</summary>
    private IReadOnlyList<Arrow.SampleRow> CalibrationRows()
    {
        var train = _data.Rows("train");
        if (train.Count == 0) throw new InvalidDataException($"{_data.DatasetDir}: the training split is empty: no calibration samples for ARank");
        return TeacherPretraining.Shuffled(train, _options.Train.Seed).Take(_options.CalibrationSamples).ToList();
    }
}
