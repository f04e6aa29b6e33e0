using Distill.Models.Checkpoints;
using Distill.Models.Devices;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Data;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Mod;
using Distill.Stages.Sources;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Composition;

/// <summary>Turns <c>distill.stages</c> into the stage definitions the supervisor runs, wiring each stage's
/// algorithm (Stages) to the run directory's fixed places.</summary>
public sealed class StageCatalog
{
    private readonly DistillSettings _s;
    private readonly RunPaths _paths;
    private readonly PreparedData _data;
    private readonly string _dataFingerprint;

    public StageCatalog(DistillSettings settings, RunPaths paths, PreparedData data, string dataFingerprint)
    {
        _s = settings;
        _paths = paths;
        _data = data;
        _dataFingerprint = dataFingerprint;
        Device = new TorchSharp.torch.Device(DeviceSelector.Resolve(settings.Device));
    }

    /// <summary>The compute device of <c>distill.device</c> (auto resolves to CUDA when this build has it).</summary>
    public TorchSharp.torch.Device Device { get; }

    public bool ExternalTeacher => _s.Teacher.Checkpoint.Length > 0;
    public string TeacherDir => ExternalTeacher ? _s.Teacher.Checkpoint : Path.Combine(_paths.Checkpoints, "teacher");
    public string StudentDir => Path.Combine(_paths.Checkpoints, "student");
    public string EvalDir => Path.Combine(_paths.Root, "eval");

    public TeacherPretraining Pretraining => new(_data,
        ModelConfigs.Teacher(_s, _data.Tokenizer.VocabSize, _data.Tokenizer.ImageId),
        new TrainOptions(_s.Teacher.Epochs, _s.Teacher.BatchSize, _s.Teacher.LearningRate, _s.Teacher.WeightDecay,
            _s.Teacher.WarmupSteps, _s.Seed),
        TeacherDir, _dataFingerprint, Device);

    /// <summary>Identifies the teacher in teacher/v1 metadata: the pretraining fingerprint, or for a given checkpoint
    /// a hash of its config and weights size.</summary>
    public string TeacherFingerprint => ExternalTeacher
        ? Fingerprint.Of("external-teacher", File.ReadAllText(Path.Combine(TeacherDir, Checkpoint.ConfigFile)),
            new FileInfo(Path.Combine(TeacherDir, Checkpoint.WeightsFile)).Length)
        : Pretraining.TeacherFingerprint;

    public IReadOnlyList<StageDefinition> Build() => _s.Stages.Select(Create).ToList();

    private StageDefinition Create(string name) => name switch
    {
        "teacher" => new ComputeStage(name, ExternalTeacher ? CheckExternalTeacher : Pretraining.Run),
        "mimic" => Mimic(name),
        "mod" => Mod(name),
        "eval" => new ComputeStage(name, Evaluate),
        _ => throw new ArgumentException($"distill.stages: unknown stage '{name}'; allowed: teacher, mimic, mod, eval"),
    };

    private StageOutcome CheckExternalTeacher(IStageProgress progress, CancellationToken ct)
    {
        using var model = Checkpoint.Load(TeacherDir);
        if (model.Config.Text.VocabSize != _data.Tokenizer.VocabSize)
            throw new InvalidDataException($"{TeacherDir}: vocab_size {model.Config.Text.VocabSize} does not match its tokenizer ({_data.Tokenizer.VocabSize} tokens)");
        if (model.Config.Vision.ImageSize != _data.ImageSize)
            throw new InvalidDataException($"{TeacherDir}: image_size {model.Config.Vision.ImageSize} differs from distill.data.image-size {_data.ImageSize}");
        return new StageOutcome(TeacherDir, new Dictionary<string, double> { ["params"] = model.ParameterCount() });
    }

    private DistillStage Mimic(string name)
    {
        var scope = _s.Mimic.Scope;
        var options = new MimicOptions(
            new TrainOptions(_s.Mimic.Epochs, _s.Mimic.BatchSize, _s.Mimic.LearningRate, _s.Mimic.WeightDecay, _s.Mimic.WarmupSteps, _s.Seed),
            _s.Mimic.KdWeight, _s.Mimic.CeWeight, scope);
        var source = new Lazy<SplitShardSource>(() => new SplitShardSource(_data, "train", "val", _s.Parallelism.ShardSize));
        return new DistillStage(name,
            CreateSource: () => source.Value,
            CreateTeacher: () => new TeacherInference(TeacherDir, TeacherFingerprint, _data.Tokenizer.Hash, _s.Teacher.TopK,
                scope, _data.ImageSize, _data.Tokenizer.PadId, Device),
            CreateStudent: () => new MimicStudent(name, ModelConfigs.Student(_s, _data.Tokenizer.VocabSize, _data.Tokenizer.ImageId),
                options, TeacherDir, source.Value.TrainSamples, source.Value.IsHeldOut, StudentDir, _data.ImageSize, _data.Tokenizer, Device));
    }

    private StageOutcome Evaluate(IStageProgress progress, CancellationToken ct)
    {
        var shapes = ShapesOptionsOf(_s);
        var evaluator = new VqaEvaluator(_data, _s.Eval.BatchSize, _s.Eval.MaxNewTokens, _s.Eval.MaxPerFamily,
            family => ShapesChance.ChanceLevel(family, shapes));
        var models = new List<(string, string)> { ("teacher", TeacherDir) };
        if (File.Exists(Path.Combine(StudentDir, Checkpoint.WeightsFile))) models.Add(("student", StudentDir));
        if (File.Exists(Path.Combine(ModStudentDir, Checkpoint.WeightsFile))) models.Add(("student-mod", ModStudentDir));
        return new EvaluationStage(evaluator, models, EvalDir, device: Device).Run(progress, ct);
    }

    public string ModStudentDir => Path.Combine(_paths.Checkpoints, "student-mod");
    public string ModDir => Path.Combine(_paths.Root, "mod");

    /// <summary>The student the mod stage converts: the newest of student-pref > student-moe > student-dense, else the
    /// mimic stage's <c>student</c>; decided when the stage starts (after the stages before it wrote theirs).</summary>
    public string ModInputDir() => ModInput.Newest(_paths.Checkpoints);

    /// <summary>gamma-MoD (DESIGN 5.4) as a distillation stage: the mimic stage's shards and teacher batches (same
    /// source, teacher, top-K and scope, so a teacher-output cache of mimic replays here), the MoD student step.</summary>
    private DistillStage Mod(string name)
    {
        var m = _s.Mod;
        var scope = _s.Mimic.Scope;
        var options = new ModOptions(
            new TrainOptions(m.Epochs, m.BatchSize, m.LearningRate, m.WeightDecay, m.WarmupSteps, _s.Seed),
            m.SkipRatio, m.KeepFirst, m.KeepLast, m.TargetFraction, m.CalibrationSamples, m.RoutingLossWeight, m.RouterLearningRate,
            m.KdWeight, m.CeWeight, m.PrefillThreshold, m.DecodeThreshold, scope);
        var measure = new ModMeasureOptions(_s.Eval.BatchSize, m.LatencyRepeats, m.LatencyThreads);
        var shapes = ShapesOptionsOf(_s);
        var source = new Lazy<SplitShardSource>(() => new SplitShardSource(_data, "train", "val", _s.Parallelism.ShardSize));
        return new DistillStage(name,
            CreateSource: () => source.Value,
            CreateTeacher: () => new TeacherInference(TeacherDir, TeacherFingerprint, _data.Tokenizer.Hash, _s.Teacher.TopK,
                scope, _data.ImageSize, _data.Tokenizer.PadId, Device),
            CreateStudent: () => new ModStudent(name, ModInputDir(), options, measure, _data, source.Value.TrainSamples,
                source.Value.IsHeldOut, ModStudentDir, Path.Combine(ModDir, ModPlan.FileName),
                new VqaEvaluator(_data, _s.Eval.BatchSize, _s.Eval.MaxNewTokens, _s.Eval.MaxPerFamily,
                    family => ShapesChance.ChanceLevel(family, shapes)),
                Device));
    }

    public static ShapesOptions ShapesOptionsOf(DistillSettings s) => new()
    {
        ImageSize = s.Data.ImageSize,
        TrainScenes = s.Data.TrainScenes,
        ValScenes = s.Data.ValScenes,
        TestScenes = s.Data.TestScenes,
        QuestionsPerScene = s.Data.QuestionsPerScene,
        MinObjects = s.Data.MinObjects,
        MaxObjects = s.Data.MaxObjects,
        Seed = s.Seed,
        Families = s.Data.Families,
    };
}
