namespace Distill.Stages.Arrow;

/// <summary>One row of <c>preference/v1</c>: a prompt (image tokens included), the chosen and rejected responses
/// (each ending with eos) and the reference model's (the teacher's) log-probabilities of each, summed over the
/// response tokens; <paramref name="Judge"/> says why chosen beats rejected.</summary>
public sealed record PreferenceRow(
    string SampleId,
    byte[] Image,
    int[] PromptIds,
    int[] ChosenIds,
    int[] RejectedIds,
    double RefChosenLogp,
    double RefRejectedLogp,
    string Source,
    string Judge);

/// <summary>Metadata of a preference batch: which teacher computed the reference log-probs, with which tokenizer.</summary>
public sealed record PreferenceBatchMeta(string TeacherFingerprint, string TokenizerHash);
