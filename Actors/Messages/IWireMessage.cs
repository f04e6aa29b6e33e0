namespace Distill.Actors.Messages;

/// <summary>A message that may cross nodes: serialized by <see cref="Serialization.WireSerializer"/> (compact binary
/// headers, Arrow payloads copied raw), bound to this interface in <see cref="DistillActorsConfig"/>.</summary>
public interface IWireMessage;
