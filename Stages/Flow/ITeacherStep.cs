namespace Distill.Stages.Flow;

/// <summary>A teacher replica: turns a <c>samples/v1</c> batch into a <c>teacher/v2</c> batch.
/// One instance per teacher worker; called from one thread at a time; owns its model (dispose frees it).</summary>
public interface ITeacherStep : IDisposable
{
    byte[] Infer(byte[] samplesV1);
}
