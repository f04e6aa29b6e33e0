namespace Distill.Actors.Tests;

/// <summary>Bytes to send as they are, under the wire serializer's id and <paramref name="Manifest"/>: lets a test
/// node put any frame, valid or not, on the wire to another node (see <see cref="RawFrameSerializer"/>).</summary>
public sealed record RawFrame(string Manifest, byte[] Bytes);
