namespace Distill.Stages.Arrow;

public static class SamplesV1
{
    public const string SchemaName = "samples/v1";
    public static byte[] Write(IReadOnlyList<SampleRow> rows, int imageBytes) => throw new NotImplementedException();
    public static IReadOnlyList<SampleRow> Read(byte[] ipc) => throw new NotImplementedException();
}
