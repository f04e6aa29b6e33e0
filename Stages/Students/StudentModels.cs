using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Moe;
using Distill.Stages.Text;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>How every student starts and changes shape, the same for the distilled and the SFT-only student: a
/// seeded fresh model with the teacher's vision tower copied in and frozen; seeded sparse upcycling; which parts
/// train in each phase; saving with the tokenizer.</summary>
public static class StudentModels
{
    private const string VisionPrefix = "vision_tower.", ProjectorPrefix = "multi_modal_projector.";

    /// <summary>A freshly initialised dense student (seeded with <paramref name="seed"/>) with the vision tower of the
    /// teacher checkpoint, frozen; every other parameter trainable.</summary>
    public static VisionLanguageModel Create(VlmConfig config, string teacherCheckpoint, int seed, Device? device)
    {
        if (config.Text.Moe is not null)
            throw new ArgumentException($"a student starts dense and is upcycled later; its config has {config.Text.Moe}");
        manual_seed(seed);
        var student = new VisionLanguageModel(config);
        try
        {
            using (var teacher = Checkpoint.Load(teacherCheckpoint)) student.LoadVisionTowerFrom(teacher);
            student.FreezeVisionTower();
            return student.OnDevice(device);
        }
        catch
        {
            student.Dispose();
            throw;
        }
    }

    /// <summary>Sparse upcycling in place (router drawn after seeding with <c>seed + 1</c>, so the distilled and the
    /// SFT-only student get the same router initialisation); the new experts and router are trainable.</summary>
    public static void Upcycle(VisionLanguageModel student, MoeConfig moe, int seed)
    {
        manual_seed(seed + 1);
        MoeUpcycling.Upcycle(student, moe);
        TrainAllButVision(student);
    }

    /// <summary>Projector warm-up: only <c>multi_modal_projector.*</c> is trainable.</summary>
    public static void TrainOnlyProjector(VisionLanguageModel student)
    {
        foreach (var (name, parameter) in student.named_parameters())
            parameter.requires_grad = name.StartsWith(ProjectorPrefix, StringComparison.Ordinal);
    }

    /// <summary>Projector and language model trainable, the vision tower frozen.</summary>
    public static void TrainAllButVision(VisionLanguageModel student)
    {
        foreach (var (name, parameter) in student.named_parameters())
            parameter.requires_grad = !name.StartsWith(VisionPrefix, StringComparison.Ordinal);
    }

    /// <summary>Writes <c>model.safetensors</c> + <c>config.json</c> + <c>tokenizer.json</c> to <paramref name="dir"/>.</summary>
    public static void Save(VisionLanguageModel student, WordTokenizer tokenizer, string dir)
    {
        Directory.CreateDirectory(dir);
        Checkpoint.Save(student, dir);
        tokenizer.Save(Path.Combine(dir, TeacherPretraining.TokenizerFile));
    }
}
