using Distill.Models.Config;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Composition;

/// <summary>Model configurations from <c>distill.model</c>; the vocabulary comes from the run's tokenizer.</summary>
public static class ModelConfigs
{
    public static VisionConfig Vision(DistillSettings s) => new(
        ImageSize: s.Data.ImageSize,
        PatchSize: s.Model.Vision.PatchSize,
        HiddenSize: s.Model.Vision.HiddenSize,
        IntermediateSize: s.Model.Vision.IntermediateSize,
        Layers: s.Model.Vision.Layers,
        Heads: s.Model.Vision.Heads,
        SelectLayer: s.Model.Vision.SelectLayer);

    public static VlmConfig Teacher(DistillSettings s, int vocabSize, int imageTokenId) =>
        new(Vision(s), Decoder(s, s.Model.Teacher, vocabSize), imageTokenId);

    public static VlmConfig Student(DistillSettings s, int vocabSize, int imageTokenId) =>
        new(Vision(s), Decoder(s, s.Model.Student, vocabSize), imageTokenId);

    /// <summary>The student's MoE after upcycling, or null when <c>distill.model.student.moe.enabled</c> is false.</summary>
    public static MoeConfig? StudentMoe(DistillSettings s) => s.Model.StudentMoe is { Enabled: true } m
        ? new MoeConfig(m.Experts, m.TopK, m.TrainCapacityFactor, m.EvalCapacityFactor, m.Layers?.ToArray(), AuxLossCoefficient: s.Mimic.AuxWeight)
        : null;

    /// <summary>The student as distillation leaves it: upcycled when the MoE is on, else dense.</summary>
    public static VlmConfig UpcycledStudent(DistillSettings s, int vocabSize, int imageTokenId)
    {
        var dense = Student(s, vocabSize, imageTokenId);
        return dense with { Text = dense.Text with { Moe = StudentMoe(s) } };
    }

    private static DecoderConfig Decoder(DistillSettings s, DecoderSettings d, int vocabSize) => new(
        VocabSize: vocabSize,
        HiddenSize: d.HiddenSize,
        IntermediateSize: d.IntermediateSize,
        Layers: d.Layers,
        Heads: d.Heads,
        KvHeads: d.KvHeads,
        MaxPositions: s.Model.MaxPositions,
        RopeTheta: s.Model.RopeTheta);
}
