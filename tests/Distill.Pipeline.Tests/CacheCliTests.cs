using Distill.Pipeline.Cli;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill cache ls</c> and <c>distill cache verify</c> on a cache written through the Stages API.</summary>
public class CacheCliTests
{
    private static readonly CacheKey Key = new("teacher-a", "tok-a", TeacherV2.SchemaName, "data-a", "cfg-a");

    private sealed class Cli : IDisposable
    {
        public readonly TempDir Dir = new();
        public StringWriter Out = new();
        public StringWriter Err = new();

        public string Root => Path.Combine(Dir.Path, "cache");

        public Task<int> Run(params string[] args)
        {
            Out = new StringWriter();
            Err = new StringWriter();
            var env = new CliEnvironment(Out, Err, (_, _, _, _) => throw new InvalidOperationException("no pipeline here"))
            {
                WorkingDirectory = Dir.Path,
                Colour = false,
            };
            return DistillCli.InvokeAsync(args, env);
        }

        public void Dispose() => Dir.Dispose();
    }

    private static byte[] Batch(int shard)
    {
        var meta = new TeacherBatchMeta("teacher-a", TopK: 1, VocabSize: 10, "tok-a", "response");
        var row = new TeacherRow(new SampleRow($"s{shard}", [1, 2, 3], [4, 5], [false, true], "shape", "circle"), [shard], [-0.5f], [-2f]);
        return TeacherV2.Write([row, row with { Sample = row.Sample with { SampleId = $"t{shard}" } }], meta, imageBytes: 3, TeacherEncoding.Default);
    }

    private static void Fill(string root, int shards, int written)
    {
        var cache = StageCache.Open(root, "mimic", Key, shards, CacheMode.Reuse);
        for (var s = 0; s < written; s++) cache.Write(s, Batch(s));
    }

    [Fact]
    public async Task Ls_prints_one_row_per_stage_cache()
    {
        using var cli = new Cli();
        Fill(cli.Root, shards: 3, written: 3);
        var partial = StageCache.Open(cli.Root, "preference", Key with { Schema = null }, 4, CacheMode.Reuse);
        partial.Write(1, Batch(1));

        Assert.Equal(0, await cli.Run("cache", "ls", "--dir", cli.Root));

        var lines = cli.Out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"distill: teacher-output cache {cli.Root}", lines[0]);
        Assert.Equal(["teacher", "stage", "key", "parts", "rows", "bytes", "complete"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var bytes = Batch(0).Length;
        Assert.Equal(["teacher-a", "mimic", "data-a-cfg-a", "3/3", "6", $"{3 * bytes}", "yes"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["teacher-a", "preference", "data-a-cfg-a", "1/4", "2", $"{bytes}", "no"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Verify_exits_0_on_a_good_cache_and_1_naming_a_bad_part()
    {
        using var cli = new Cli();
        Fill(cli.Root, shards: 3, written: 3);
        Assert.Equal(0, await cli.Run("cache", "verify", "--dir", cli.Root));
        Assert.Contains("OK   teacher-a/mimic/data-a-cfg-a: 3/3 parts, 6 rows verified", cli.Out.ToString());
        Assert.Contains("all parts verified", cli.Out.ToString());

        var part = Path.Combine(Key.DirectoryUnder(cli.Root, "mimic"), "part-00001.arrow");
        var bytes = File.ReadAllBytes(part);
        bytes[^9] ^= 0x10;
        File.WriteAllBytes(part, bytes);

        Assert.Equal(1, await cli.Run("cache", "verify", "--dir", cli.Root));
        Assert.Contains($"BAD  {part}: shard 1: sha256", cli.Err.ToString());
        Assert.Contains("(altered)", cli.Err.ToString());
        Assert.Contains("1 problem(s)", cli.Err.ToString());
        Assert.True(File.Exists(part)); // verify only reads
    }

    [Fact]
    public async Task The_run_option_finds_the_runs_cache_and_bad_arguments_exit_2()
    {
        using var cli = new Cli();
        var run = Path.Combine(cli.Dir.Path, "r1");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.resolved.conf"), "distill { cache { dir = \"\" } }");
        Fill(Path.Combine(run, "cache"), shards: 2, written: 2);
        Assert.Equal(0, await cli.Run("cache", "verify", "--run", "r1"));
        Assert.Equal(0, await cli.Run("cache", "ls", "--run", "r1"));
        Assert.Contains("2/2", cli.Out.ToString());

        Assert.Equal(2, await cli.Run("cache", "ls"));
        Assert.Contains("give either --run DIR or --dir CACHE", cli.Err.ToString());
        Assert.Equal(2, await cli.Run("cache", "verify", "--dir", "missing"));
        Assert.Contains($"cache directory {Path.Combine(cli.Dir.Path, "missing")} does not exist", cli.Err.ToString());
        Assert.Equal(2, await cli.Run("cache", "ls", "--run", "nothing-here"));
        Assert.Contains("is not a run directory", cli.Err.ToString());
    }
}
