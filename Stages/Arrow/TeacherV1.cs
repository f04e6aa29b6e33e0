namespace Distill.Stages.Arrow;

public static class TeacherV1
{
    public const string SchemaName = "teacher/v1";
    public static byte[] Write(IReadOnlyList<TeacherRow> rows, TeacherBatchMeta meta, int imageBytes) => throw new NotImplementedException();
    public static (IReadOnlyList<TeacherRow> Rows, TeacherBatchMeta Meta) Read(byte[] ipc) => throw new NotImplementedException();
}
