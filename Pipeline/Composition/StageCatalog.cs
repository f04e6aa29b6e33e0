using Distill.Models.Torch;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Devices;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Preference;
using Distill.Stages.Mod;
using Distill.Stages.Sources;
using Distill.Stages.Students;
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
        Placement = new Placement(new TorchSharp.torch.Device(DeviceSelector.Resolve(settings.Device)), settings.DType);
    }

    /// <summary>The compute device of <c>distill.device</c> (auto resolves to CUDA when this build has it).</summary>
    public TorchSharp.torch.Device Device => Placement.Device!;

    /// <summary>Where every stage builds and loads its models: <see cref="Device"/> in <c>distill.dtype</c>.</summary>
    public Placement Placement { get; }

    public bool ExternalTeacher => _s.Teacher.Checkpoint.Length > 0;
    public string TeacherDir => ExternalTeacher ? _s.Teacher.Checkpoint : Path.Combine(_paths.Checkpoints, "teacher");
    public string SftDir => Path.Combine(_paths.Checkpoints, "sft");
    public string StudentDenseDir => Path.Combine(_paths.Checkpoints, "student-dense");
    public string StudentMoeDir => Path.Combine(_paths.Checkpoints, "student-moe");

    /// <summary>Where the students' weights start (<c>distill.model.student.init</c>, <c>vision-init</c>).</summary>
    public StudentInit StudentInit => new(
        _s.Model.StudentInit.Length > 0 ? _s.Model.StudentInit : null,
        _s.Model.StudentVisionInit.Length > 0 ? _s.Model.StudentVisionInit : null);

    /// <summary>The dense student: its tower and how the LM reads it from the checkpoint the tower comes from (the
    /// vision-init directory, else a given teacher; the configured tower for a pretrained one), its language model from
    /// the init directory's config or <c>distill.model.student</c>.</summary>
    public VlmConfig StudentConfig
    {
        get
        {
            var config = ModelConfigs.Student(_s, Vocabulary, _data.ImageTokenId);
            var init = StudentInit;
            var towerFrom = init.Vision ?? (ExternalTeacher ? TeacherDir : null);
            if (towerFrom is not null && Checkpoint.ReadConfig(towerFrom).Vlm is { } tower)
                config = config with
                {
                    Vision = tower.Vision, VisionFeatureLayer = tower.VisionFeatureLayer,
                    VisionFeatureSelectStrategy = tower.VisionFeatureSelectStrategy, ProjectorHiddenAct = tower.ProjectorHiddenAct,
                };
            if (init.LanguageModel is { } lm)
                config = config with { Text = Checkpoint.ReadConfig(lm).Decoder with { Moe = null, Mod = null } };
            return config;
        }
    }

    /// <summary>The vocabulary of every model of the run: a given teacher's <c>vocab_size</c> (it may exceed the
    /// tokenizer's ids: checkpoints pad it), else the tokenizer's.</summary>
    public int Vocabulary => ExternalTeacher ? Checkpoint.ReadConfig(TeacherDir).Decoder.VocabSize : _data.Tokenizer.VocabSize;

    /// <summary>Refuses, before any stage runs, a student init whose language model cannot be distilled from the
    /// teacher: another vocabulary (the logits would not line up) or another tokenizer.json than the run's.</summary>
    public void CheckStudentInit()
    {
        if (StudentInit.LanguageModel is not { } lm) return;
        var vocab = Checkpoint.ReadConfig(lm).Decoder.VocabSize;
        var teacherVocab = Vocabulary;
        if (vocab != teacherVocab)
            throw new InvalidDataException(
                $"distill.model.student.init: {lm} has vocab_size {vocab}, the teacher {(ExternalTeacher ? TeacherDir : "(pretrained here)")} {teacherVocab}: teacher and student must share the vocabulary");
        var tokenizer = Path.Combine(lm, TeacherPretraining.TokenizerFile);
        if (!File.Exists(tokenizer))
            throw new FileNotFoundException($"distill.model.student.init: {lm} has no {TeacherPretraining.TokenizerFile}, so it cannot be checked against the run's tokenizer", tokenizer);
        var hash = _data is ShapesData ? Distill.Stages.Text.WordTokenizer.Load(tokenizer).Hash : Distill.Stages.Text.HfTokenizer.Load(lm).Hash;
        if (hash != _data.Tokenizer.Hash)
            throw new InvalidDataException(
                $"distill.model.student.init: {tokenizer} (sha256 {hash[..12]}) is not the run's tokenizer {(ExternalTeacher ? Path.Combine(TeacherDir, TeacherPretraining.TokenizerFile) : "")} (sha256 {_data.Tokenizer.Hash[..12]}): teacher and student must share the tokenizer");
    }

    public string EvalDir => Path.Combine(_paths.Root, "eval");
    public string ExportDir => _paths.Export;

    /// <summary>Where a dataflow stage's student side reports work it does before the dataflow (pair mining).</summary>
    public IStageProgress Progress { get; init; } = NullStageProgress.Instance;

    /// <summary>Cancels work a stage does before its dataflow (pair mining).</summary>
    public CancellationToken Cancellation { get; init; }

    public TeacherPretraining Pretraining => new(_data,
        ModelConfigs.Teacher(_s, _data.Tokenizer.VocabSize, _data.ImageTokenId),
        Train(_s.Teacher.Epochs, _s.Teacher.Optimiser),
        TeacherDir, _dataFingerprint, Placement, _s.Teacher.Store.Length > 0 ? new TeacherStore(_s.Teacher.Store) : null);

    /// <summary>Identifies the teacher in teacher/v2 metadata: the pretraining fingerprint, or for a given checkpoint
    /// a hash of its config and weights size.</summary>
    public string TeacherFingerprint => ExternalTeacher
        ? Fingerprint.Of("external-teacher", File.ReadAllText(Path.Combine(TeacherDir, Checkpoint.ConfigFile)),
            new FileInfo(Path.Combine(TeacherDir, Checkpoint.WeightsFile)).Length)
        : Pretraining.TeacherFingerprint;

    public IReadOnlyList<StageDefinition> Build() => _s.Stages.Select(Create).ToList();

    private StageDefinition Create(string name) => name switch
    {
        "teacher" => new ComputeStage(name, ExternalTeacher ? CheckExternalTeacher : Pretraining.Run),
        "sft" => new ComputeStage(name, (progress, ct) => Sft(name).Run(progress, ct)),
        "mimic" => Mimic(name),
        "preference" => Preference(name),
        "mod" => Mod(name),
        "eval" => new ComputeStage(name, Evaluate),
        _ => throw new ArgumentException($"distill.stages: unknown stage '{name}'; allowed: {string.Join(", ", ConfigSchema.StageNames)}"),
    };

    private StageOutcome CheckExternalTeacher(IStageProgress progress, CancellationToken ct)
    {
        using var model = Checkpoint.Load(TeacherDir);
        if (model.Config.Text.VocabSize < _data.Tokenizer.VocabSize)
            throw new InvalidDataException($"{TeacherDir}: vocab_size {model.Config.Text.VocabSize} is smaller than its tokenizer's {_data.Tokenizer.VocabSize} ids");
        if (model.Config.Vision.ImageSize != _data.ImageFormat.Size)
            throw new InvalidDataException($"{TeacherDir}: image_size {model.Config.Vision.ImageSize} differs from the data's images ({_data.ImageFormat.Size} pixels)");
        return new StageOutcome(TeacherDir, new Dictionary<string, double> { ["params"] = model.ParameterCount() });
    }

    private DistillStage Mimic(string name)
    {
        var scope = _s.Mimic.Scope;
        var options = new MimicOptions(StudentTrain, StudentSchedule,
            new KdObjective(_s.Mimic.Loss, _s.Mimic.JsdBeta, _s.Mimic.Temperature),
            _s.Mimic.KdWeight, _s.Mimic.CeWeight, _s.Mimic.AuxWeight, scope);
        var source = new Lazy<SplitShardSource>(DistillSource);
        return new DistillStage(name,
            CreateSource: () => source.Value,
            CreateTeacher: DistillTeacher,
            CreateStudent: () => new MimicStudent(name, StudentConfig,
                options, TeacherDir, source.Value.TrainSamples, source.Value.IsHeldOut, SftStudent.Captions(_data, PreparedData.LabelledSplit), StudentDenseDir, StudentMoeDir,
                _data.ImageFormat, _data, source.Value, Kept(name), Placement,
                TrainingStates.For(name, TeacherFingerprint, TeacherDir), StudentInit, Progress, Cancellation));
    }

    /// <summary>The shards of mimic and mod: the training samples of <see cref="PreparedData.DistillSplit"/> (the
    /// labelled ones and the unlabelled pool), then the validation split's.</summary>
    private SplitShardSource DistillSource() => new(_data, PreparedData.DistillSplit, "val", _s.Parallelism.ShardSize);

    /// <summary>The teacher of mimic and mod (one teacher side, so mod replays mimic's cache): top-K log-probs on the
    /// scope, after answering the pool's prompts (and every prompt with
    /// <c>distill.mimic.teacher-generated-responses</c>) in at most <c>distill.eval.max-new-tokens</c> tokens.</summary>
    private TeacherInference DistillTeacher() => new(TeacherDir, TeacherFingerprint, _data.Tokenizer.Hash, _s.Teacher.TopK,
        _s.Mimic.Scope, _data.ImageFormat, _data.PadId, Placement,
        new ResponseGeneration(_s.Eval.MaxNewTokens, _data.EosId, EveryRow: _s.Mimic.TeacherGeneratedResponses), _s.Teacher.Encoding());

    /// <summary>The SFT-only baseline: the mimic student's architecture, schedule and optimiser, CE on the
    /// ground-truth responses of the labelled share only, as many optimiser steps as mimic.</summary>
    private SftStudent Sft(string name) => new(name, _data,
        StudentConfig, StudentSchedule, StudentTrain,
        _s.Mimic.AuxWeight, TeacherDir, SftDir, Placement, TrainingStates.For(name, TeacherFingerprint, TeacherDir), StudentInit);

    /// <summary>The student curriculum shared by mimic and sft (<c>distill.mimic</c> epochs, <c>distill.model.student.moe</c>).</summary>
    public StudentSchedule StudentSchedule => new(_s.Mimic.ProjectorWarmupEpochs, _s.Mimic.D2dEpochs, _s.Mimic.D2sEpochs, StudentMoe);

    /// <summary>The student's MoE after upcycling, or null when <c>distill.model.student.moe.enabled</c> is false.</summary>
    public MoeConfig? StudentMoe => ModelConfigs.StudentMoe(_s);

    private TrainOptions StudentTrain => Train(_s.Mimic.D2dEpochs + _s.Mimic.D2sEpochs, _s.Mimic.Optimiser);

    /// <summary>A stage's optimiser settings for <paramref name="epochs"/> epochs, seeded by <c>distill.seed</c>.</summary>
    private TrainOptions Train(int epochs, OptimiserSettings o) =>
        new(epochs, o.BatchSize, o.LearningRate, o.WeightDecay, o.WarmupSteps, _s.Seed);

    /// <summary>Output of the preference stage.</summary>
    public string PreferenceDir => Path.Combine(_paths.Checkpoints, "student-pref");

    /// <summary>The student the preference stage continues: the newest of student-moe &gt; student-dense (the mimic
    /// stage's D2S and D2D outputs).</summary>
    public string PreferenceInput() => NewestStudent("preference", "mimic", StudentMoeDir, StudentDenseDir);

    /// <summary>The first of <paramref name="candidates"/> that holds a checkpoint; the error names them all and the
    /// stage that writes them.</summary>
    private static string NewestStudent(string stage, string producers, params string[] candidates) =>
        candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, Checkpoint.WeightsFile)))
        ?? throw new InvalidOperationException(
            $"{stage}: no student to continue: none of {string.Join(", ", candidates)} holds a {Checkpoint.WeightsFile}; run '{producers}' before '{stage}'");

    /// <summary>Stage <c>preference</c> (DESIGN 5.3): pairs are collected (dataset file, student mining) when the
    /// stage starts, the teacher workers score them into preference/v1 batches, the trainer runs the DPO-family loss.</summary>
    private DistillStage Preference(string name)
    {
        var p = _s.Preference;
        var options = new PreferenceOptions(
            Train(p.Epochs, p.Optimiser), p.Loss, p.Beta, p.SftWeight);
        var mining = new MiningOptions(p.SamplesPerPrompt, p.Temperature, p.TopP, p.MaxNewTokens, p.Prompts, p.HeldOutPrompts,
            BatchSize: p.Optimiser.BatchSize, StudentSampled: p.Uses(PreferenceSources.StudentSampled),
            Hallucination: p.Uses(PreferenceSources.Hallucination), Seed: _s.Seed);
        string? datasetFile = p.Uses(PreferenceSources.Dataset) ? Path.GetFullPath(p.DatasetFile) : null;
        var input = new Lazy<string>(PreferenceInput);
        var source = new Lazy<CandidateShardSource>(() => PreferencePairCollection.Collect(_data, input.Value, datasetFile, mining,
            _s.Parallelism.ShardSize, name, Progress, Cancellation, Placement));
        return new DistillStage(name,
            CreateSource: () => source.Value,
            CreateTeacher: () => new PreferenceTeacher(TeacherDir, TeacherFingerprint, _data.Tokenizer.Hash, _data.ImageFormat,
                _data.PadId, placement: Placement),
            CreateStudent: () => new PreferenceStudent(name, input.Value, options, source.Value.TrainPairs, source.Value.IsHeldOut,
                PreferenceDir, _data.ImageFormat, _data, Kept(name), source.Value.Figures, Placement,
                TrainingStates.For(name, TeacherFingerprint, input.Value), Progress, Cancellation));
    }

    /// <summary>Where a distillation stage keeps its training batches for the later epochs.</summary>
    private KeptShards Kept(string stage) => new(_paths.KeptShardsOf(stage), _s.Parallelism.ReplayWindow);

    private StageOutcome Evaluate(IStageProgress progress, CancellationToken ct)
    {
        var evaluator = Evaluator();
        var models = ModelLineup.Existing(TeacherDir, _paths.Checkpoints).Select(m => (m.Name, m.Checkpoint)).ToList();
        var final = ModelLineup.FinalStudent(_paths.Checkpoints);
        return new EvaluationStage(evaluator, models, EvalDir, placement: Placement)
        {
            Speed = _s.Eval.SpeedPrompts == 0 ? null
                : new SpeedMeasurement(_data, _s.Eval.SpeedPrompts, _s.Eval.SpeedRepeats, _s.Eval.MaxNewTokens, _s.Eval.BatchSize),
            Export = final is null ? null : new ExportPlan(final, ExportDir, _data),
        }.Run(progress, ct);
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
            Train(m.Epochs, m.Optimiser),
            m.SkipRatio, m.KeepFirst, m.KeepLast, m.TargetFraction, m.CalibrationSamples, m.RoutingLossWeight, m.RouterLearningRate,
            m.KdWeight, m.CeWeight, m.PrefillThreshold, m.DecodeThreshold, scope);
        var measure = new ModMeasureOptions(_s.Eval.BatchSize, m.LatencyRepeats, m.LatencyThreads);
        var source = new Lazy<SplitShardSource>(DistillSource);
        return new DistillStage(name,
            CreateSource: () => source.Value,
            CreateTeacher: DistillTeacher,
            CreateStudent: () =>
            {
                var input = ModInputDir();
                return new ModStudent(name, input, options, measure, _data, source.Value, Kept(name), source.Value.TrainSamples,
                    source.Value.IsHeldOut, ModStudentDir, Path.Combine(ModDir, ModPlan.FileName),
                    Evaluator(),
                    Placement, TrainingStates.For(name, TeacherFingerprint, input), Progress, Cancellation);
            });
    }

    /// <summary>The evaluator of the eval and mod stages: a family's chance level from the Shapes options (on a LLaVA
    /// dataset 0.5 for the yes/no probes, else 0); the new-token budget from the teacher's generation_config.json when it
    /// gives one, else <c>distill.eval.max-new-tokens</c>.</summary>
    private VqaEvaluator Evaluator()
    {
        var shapes = ShapesOptionsOf(_s);
        Func<string, double> chance = _data is LlavaData
            ? family => family == LlavaData.Existence ? 0.5 : 0
            : family => ShapesChance.ChanceLevel(family, shapes);
        return new VqaEvaluator(_data, _s.Eval.BatchSize, _data.Stop.MaxNewTokens ?? _s.Eval.MaxNewTokens, _s.Eval.MaxPerFamily, chance);
    }

    /// <summary>The mid-stage training states of the student steps (<c>checkpoints/&lt;stage&gt;.partial</c>).</summary>
    public TrainingStates TrainingStates => new(_s, _paths, _dataFingerprint, _data.Tokenizer.Hash);

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
        ExistenceWeight = s.Data.ExistenceWeight,
    };
}
