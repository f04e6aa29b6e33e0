using Distill.Models.Torch;
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

    /// <summary>A dense student (seeded with <paramref name="seed"/>): the vision tower of the teacher checkpoint (or of
    /// <see cref="StudentInit.Vision"/>, with its projector when the sizes fit), frozen; the language model fresh or from
    /// <see cref="StudentInit.LanguageModel"/> (whose config <paramref name="config"/>'s text part must be); every
    /// parameter but the tower trainable.</summary>
    public static VisionLanguageModel Create(VlmConfig config, string teacherCheckpoint, int seed, Placement? placement, StudentInit? init = null)
    {
        if (config.Text.Moe is not null)
            throw new ArgumentException($"a student starts dense and is upcycled later; its config has {config.Text.Moe}");
        init ??= StudentInit.None;
        manual_seed(seed);
        var student = new VisionLanguageModel(config);
        try
        {
            using (var source = Checkpoint.Load(init.Vision ?? teacherCheckpoint))
            {
                student.LoadVisionTowerFrom(source);
                if (init.Vision is not null && Fits(source.Projector, student.Projector)) Copy(source.Projector, student.Projector);
            }
            if (init.LanguageModel is { } lm)
            {
                using var decoder = Checkpoint.LoadCausalLm(lm);
                if (!Fits(decoder, student.LanguageModel))
                    throw new InvalidDataException($"{lm}: its language model does not fit the student's config ({config.Text})");
                Copy(decoder, student.LanguageModel);
            }
            student.FreezeVisionTower();
            return student.Place(placement);
        }
        catch
        {
            student.Dispose();
            throw;
        }
    }

    private static bool Fits(nn.Module source, nn.Module target)
    {
        var from = source.state_dict();
        return target.state_dict().All(kv => from.TryGetValue(kv.Key, out var t) && t.shape.SequenceEqual(kv.Value.shape));
    }

    private static void Copy(nn.Module source, nn.Module target)
    {
        using var noGrad = no_grad();
        var from = source.state_dict();
        foreach (var (name, tensor) in target.state_dict()) tensor.copy_(from[name]);
    }

    /// <summary>Sparse upcycling in place (router drawn after seeding with <c>seed + 1</c>, so the distilled and the
    /// SFT-only student get the same router initialisation); the new experts and router are trainable.</summary>
    public static void Upcycle(VisionLanguageModel student, MoeConfig moe, int seed)
    {
        manual_seed(seed + 1);
        student.UpcycleToMoe(moe);
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
}
