namespace Distill.Stages.Arrow;

/// <summary>The <c>source</c> values of <c>candidates/v1</c> and <c>preference/v1</c> rows: where a pair came from.</summary>
public static class PreferenceSources
{
    /// <summary>Chosen and rejected given by a dataset file (RLAIF-V style).</summary>
    public const string Dataset = "dataset";

    /// <summary>Responses sampled from the teacher.</summary>
    public const string TeacherSampled = "teacher-sampled";

    /// <summary>Responses sampled from the student, judged by the ground truth or by the teacher.</summary>
    public const string StudentSampled = "student-sampled";

    /// <summary>Caption samples of the student: one that names an object not in the scene is rejected.</summary>
    public const string Hallucination = "hallucination";

    public static readonly IReadOnlyList<string> All = [Dataset, TeacherSampled, StudentSampled, Hallucination];
}
