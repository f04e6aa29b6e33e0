namespace Distill.Stages.Workspace;

/// <summary>Distill was about to write into <see cref="Folder"/>, which exists, is not empty and is not Distill's
/// (<see cref="OwnedFolder"/>); nothing was written into it.</summary>
public sealed class FolderNotOwnedException(string folder, string message) : IOException(message)
{
    public string Folder { get; } = folder;
}
