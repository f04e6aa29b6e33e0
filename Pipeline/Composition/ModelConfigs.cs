using Distill.Models.Config;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Composition;

/// <summary>Model configurations from <c>distill.model</c>; the vocabulary comes from the run's tokenizer.</summary>
public static class ModelConfigs
{
    /// <summary>The CLIP tower of <c>distill.model.vision</c> (exact GELU, as the Shapes models are trained).</summary>
    public static VisionConfig Vision(DistillSettings s) => new(
        ImageSize: s.Data.ImageSize,
        PatchSize: s.Model.Vision.PatchSize,
        HiddenSize: s.Model.Vision.HiddenSize,
        IntermediateSize: s.Model.Vision.IntermediateSize,
        Layers: s.Model.Vision.Layers,
        Heads: s.Model.Vision.Heads)
    { HiddenAct = "gelu" };

    /// <summary>Image feature rows per image the LM receives (the image tokens of a prompt).</summary>
    public static int ImageFeatures(DistillSettings s) => Llava(s, Decoder(s, s.Model.Student, 1), 0).ImageFeatures;

    public static VlmConfig Teacher(DistillSettings s, int vocabSize, int imageTokenId) =>
        Llava(s, Decoder(s, s.Model.Teacher, vocabSize), imageTokenId);

    public static VlmConfig Student(DistillSettings s, int vocabSize, int imageTokenId) =>
        Llava(s, Decoder(s, s.Model.Student, vocabSize), imageTokenId);

    /// <summary>LLaVA over the tower: the LM takes the hidden states of <c>distill.model.vision.select-layer</c>
    /// without the class token (strategy <c>default</c>), through a gelu projector.</summary>
    private static VlmConfig Llava(DistillSettings s, DecoderConfig text, int imageTokenId) =>
        new(Vision(s), text, imageTokenId) { VisionFeatureLayer = s.Model.Vision.SelectLayer, VisionFeatureSelectStrategy = "default" };

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
