using Distill.Models.IO;

namespace Distill.Pipeline.Cluster;

/// <summary>Files of a cluster run under <c>&lt;run&gt;/cluster/</c>: the coordinator writes its address to
/// <c>seed</c> once it is up (./run.sh cluster starts the teacher nodes with it); ./run.sh writes each node's process
/// id to <c>node-&lt;role&gt;-&lt;i&gt;.pid</c>.</summary>
public static class ClusterRunFiles
{
    public const string Folder = "cluster";
    public const string SeedName = "seed";

    public static string SeedFile(string runRoot) => Path.Combine(runRoot, Folder, SeedName);

    /// <summary>Writes the seed address atomically (temp file, then rename), so a reader never sees half of it.</summary>
    public static void WriteSeed(string runRoot, string address) => AtomicFile.WriteAllText(SeedFile(runRoot), address + "\n");
}
