namespace Distill.Stages.Students;

/// <summary>Where a student's weights start (<c>distill.model.student.init</c>, <c>vision-init</c>): the language model
/// of a Hugging Face directory (a causal LM or a LLaVA model) instead of fresh weights, and the vision tower (with its
/// projector when the sizes fit) of a LLaVA directory instead of the teacher's. Null parts: fresh LM, teacher's tower.</summary>
public sealed record StudentInit(string? LanguageModel = null, string? Vision = null)
{
    public static StudentInit None { get; } = new();
}
