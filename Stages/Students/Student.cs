using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>A student under training: the model and the cache of its frozen vision tower's features. Its forward
/// over a collated batch is tower (cached) -> projector -> LM, the same function as
/// <see cref="VisionLanguageModel.Forward(Tensor, Tensor, Tensor?)"/>.</summary>
public sealed class Student(VisionLanguageModel model, VisionFeatureCache features)
{
    public VisionLanguageModel Model { get; } = model;
    public VisionFeatureCache Features { get; } = features;

    /// <summary>Logits [B,T,V] of the batch collated from <paramref name="rows"/>.</summary>
    public Tensor Logits(TrainingBatch batch, IReadOnlyList<SampleRow> rows)
    {
        using var scope = NewDisposeScope();
        var patches = Features.Patches(Model, rows, batch.Pixels);                             // [B,N,Dv]
        var imageFeatures = Model.Projector.forward(patches);                                  // [B,N,Dt]
        return Model.ForwardWithImageFeatures(imageFeatures, batch.InputIds).MoveToOuterDisposeScope(); // [B,T,V]
    }

    /// <summary>The summed MoE aux loss of the last forward, or null for a dense student.</summary>
    public Tensor? MoeAuxLoss() => Model.Config.Text.Moe is null ? null : Model.MoeAuxLoss();
}
