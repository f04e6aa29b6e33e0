using System.Security.Cryptography;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class StageCacheTests : IDisposable
{
    private static readonly CacheKey Key = new("teacher-a", "tok-a", TeacherV2.SchemaName, "data0123456789abcdef-long", "cfg-a");
    private readonly TempDir _dir = new();

    private string Root => _dir.Path;
    private string Dir => Key.DirectoryUnder(Root, "mimic");
    private string Part(int shard) => Path.Combine(Dir, CacheManifest.PartFile(shard));

    private static byte[] Batch(int shard, int rows = 1, string teacher = "teacher-a", string tokenizer = "tok-a")
    {
        var meta = new TeacherBatchMeta(teacher, TopK: 2, VocabSize: 100, tokenizer, "response");
        var list = Enumerable.Range(0, rows).Select(i => new TeacherRow(
            new SampleRow($"s{shard}-{i}", [1, 2, 3, 4], [5, 6, 7], [false, true, true], "count", "2"),
            [shard + 4, 1, 2, 3], [-0.5f, -1f, -0.25f, -2f], [-3f, -4f])).ToList();
        return TeacherV2.Write(list, meta, imageBytes: 4, TeacherEncoding.Default);
    }

    private StageCache Filled(int shards, CacheKey? key = null)
    {
        var cache = StageCache.Open(Root, "mimic", key ?? Key, shards, CacheMode.Reuse);
        for (var s = 0; s < shards; s++) cache.Write(s, Batch(s, rows: s + 1));
        return cache;
    }

    public void Dispose() => _dir.Dispose();

    [TinyFilesystemFact]
    public void A_disk_that_fills_up_while_a_part_is_written_leaves_no_torn_part_and_names_the_shard()
    {
        // Fault drill (issue 15, item 6): the cache lives on a 96 KB filesystem; parts of ~6 KB fill it.
        using var disk = TinyFilesystem.TryMount(96, out var why) ?? throw new InvalidOperationException(why);
        var cache = StageCache.Open(disk.Path, "mimic", Key, 64, CacheMode.Reuse);
        IOException? full = null;
        int shard = 0;
        for (; shard < 64 && full is null; shard++)
        {
            try { cache.Write(shard, Batch(shard, rows: 60)); }
            catch (IOException e) { full = e; }
        }
        Assert.NotNull(full);
        var failed = shard - 1;
        Assert.Contains($"shard {failed}", full!.Message);
        Assert.Contains("No space left on device", full.Message);
        var dir = Key.DirectoryUnder(disk.Path, "mimic");
        Assert.DoesNotContain(Directory.GetFiles(dir), f => Models.IO.AtomicFile.IsTempName(Path.GetFileName(f)));   // no torn temp file

        // Opened again, every listed part verifies and nothing from the failed write is used.
        var reopened = StageCache.Open(disk.Path, "mimic", Key, 64, CacheMode.Reuse);
        Assert.True(reopened.Available.Count >= 1);
        Assert.DoesNotContain(failed, reopened.Available);
        foreach (var s in reopened.Available) Assert.Equal(Batch(s, rows: 60), reopened.Read(s));
    }

    [Fact]
    public void Layout_manifest_and_parts_round_trip()
    {
        var cache = Filled(3);
        Assert.True(cache.Complete);
        Assert.Equal(Path.Combine(Root, "teacher-a", "mimic", "data0123456789ab-cfg-a"), cache.Directory);

        var manifest = CacheManifest.TryRead(Dir)!;
        Assert.Equal(("mimic", "teacher-a", "tok-a", "teacher/v2", 3, true),
            (manifest.Stage, manifest.TeacherFingerprint, manifest.TokenizerHash, manifest.Schema, manifest.ShardCount, manifest.Complete));
        Assert.Equal([1L, 2L, 3L], manifest.Parts.Select(p => p.Rows));
        Assert.Equal(["part-00000.arrow", "part-00001.arrow", "part-00002.arrow"], manifest.Parts.Select(p => p.File));
        var bytes = Batch(2, rows: 3);
        var part = manifest.Parts[2];
        Assert.Equal((long)bytes.Length, part.Bytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), part.Sha256);
        Assert.Contains("\"teacher_fingerprint\": \"teacher-a\"", File.ReadAllText(Path.Combine(Dir, "manifest.json")));

        var reopened = StageCache.Open(Root, "mimic", Key, 3, CacheMode.Replay);
        Assert.Equal([0, 1, 2], reopened.Available);
        Assert.Equal(bytes, reopened.Read(2));
        Assert.Empty(reopened.Repairs);
        Assert.Empty(Directory.EnumerateFiles(Dir, "*.tmp-*"));
    }

    [Fact]
    public void A_half_written_cache_is_incomplete_and_a_rewritten_part_replaces_the_old_one()
    {
        var cache = StageCache.Open(Root, "mimic", Key, 3, CacheMode.Reuse);
        cache.Write(1, Batch(1));
        Assert.False(CacheManifest.TryRead(Dir)!.Complete);
        cache.Write(1, Batch(1, rows: 4));
        Assert.Equal(4, Assert.Single(CacheManifest.TryRead(Dir)!.Parts).Rows);
    }

    [Fact]
    public void A_truncated_part_is_found_when_opening_for_reuse_reported_and_deleted()
    {
        Filled(3);
        var good = File.ReadAllBytes(Part(1));
        File.WriteAllBytes(Part(1), good[..^7]);

        var cache = StageCache.Open(Root, "mimic", Key, 3, CacheMode.Reuse);

        Assert.Equal([0, 2], cache.Available);
        var repair = Assert.Single(cache.Repairs);
        Assert.Contains(Part(1), repair);
        Assert.Contains($"{good.Length - 7} bytes, the manifest records {good.Length} (truncated or changed)", repair);
        Assert.Equal(1, cache.PartsRemoved);
        Assert.False(File.Exists(Part(1)));
        Assert.False(CacheManifest.TryRead(Dir)!.Complete);
        Assert.Equal([0, 2], CacheManifest.TryRead(Dir)!.Parts.Select(p => p.Shard));
    }

    [Fact]
    public void An_altered_byte_is_caught_on_read_and_the_part_is_removed()
    {
        var cache = Filled(2);
        var bytes = File.ReadAllBytes(Part(0));
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(Part(0), bytes);

        var error = Assert.Throws<CachePartException>(() => cache.Read(0));

        Assert.Equal(Part(0), error.Path);
        Assert.True(error.Removed);
        Assert.Contains("(altered)", error.Message);
        Assert.False(File.Exists(Part(0)));
        Assert.Equal([1], CacheManifest.TryRead(Dir)!.Parts.Select(p => p.Shard));
    }

    [Fact]
    public void A_part_is_read_only_for_the_input_it_was_computed_from()
    {
        var cache = StageCache.Open(Root, "mimic", Key, 2, CacheMode.Reuse);
        cache.Write(0, Batch(0), inputSha256: "aaaa");
        cache.Write(1, Batch(1)); // no input recorded: not tied to one
        Assert.Equal(Batch(0), cache.Read(0, inputSha256: "aaaa"));
        Assert.Equal(Batch(1), cache.Read(1, inputSha256: "cccc"));

        var replay = StageCache.Open(Root, "mimic", Key, 2, CacheMode.Replay);
        var kept = Assert.Throws<CachePartException>(() => replay.Read(0, inputSha256: "bbbb"));
        Assert.False(kept.Removed);
        Assert.True(File.Exists(Part(0)));

        var error = Assert.Throws<CachePartException>(() => cache.Read(0, inputSha256: "bbbb"));
        Assert.Contains("computed from another input (sha256 aaaa); the shard's input now has sha256 bbbb", error.Message);
        Assert.True(error.Removed);
        Assert.False(File.Exists(Part(0)));
        Assert.Equal([1], CacheManifest.TryRead(Dir)!.Parts.Select(p => p.Shard));
    }

    [Fact]
    public void Replay_refuses_a_bad_part_naming_it_and_leaves_the_cache_alone()
    {
        Filled(2);
        var bytes = File.ReadAllBytes(Part(1));
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(Part(1), bytes);

        var error = Assert.Throws<CachePartException>(() => StageCache.Open(Root, "mimic", Key, 2, CacheMode.Replay));

        Assert.Equal(Part(1), error.Path);
        Assert.False(error.Removed);
        Assert.True(File.Exists(Part(1)));
        Assert.Equal(2, CacheManifest.TryRead(Dir)!.Parts.Count);
    }

    [Fact]
    public void Replay_refuses_another_teacher_naming_the_teachers_the_cache_holds()
    {
        Filled(2);
        var error = Assert.Throws<CacheMismatchException>(() =>
            StageCache.Open(Root, "mimic", Key with { TeacherFingerprint = "teacher-b" }, 2, CacheMode.Replay));
        Assert.Contains("no teacher-output cache of stage 'mimic'", error.Message);
        Assert.Contains("(teacher teacher-b, key data0123456789ab-cfg-a)", error.Message);
        Assert.Contains("holds that stage only for: teacher teacher-a, key data0123456789ab-cfg-a (another teacher or key: refused)", error.Message);
    }

    [Fact]
    public void A_manifest_of_another_teacher_tokenizer_or_schema_is_refused()
    {
        Filled(2);
        var manifest = Path.Combine(Dir, "manifest.json");

        var tokenizer = Assert.Throws<CacheMismatchException>(() =>
            StageCache.Open(Root, "mimic", Key with { TokenizerHash = "tok-b" }, 2, CacheMode.Replay));
        Assert.Equal($"{manifest} is refused: it records tokenizer hash tok-a, expected tok-b (another tokenizer)", tokenizer.Message);

        var schema = Assert.Throws<CacheMismatchException>(() =>
            StageCache.Open(Root, "mimic", Key with { Schema = "preference/v1" }, 2, CacheMode.Reuse));
        Assert.StartsWith($"{manifest} is refused: it records schema teacher/v2, expected preference/v1", schema.Message);
        Assert.Contains("distill.cache.mode = write", schema.Message);

        // A manifest copied under another teacher's folder is refused too, though the folder matches the key.
        var copied = Key with { TeacherFingerprint = "teacher-c" };
        var copiedDir = copied.DirectoryUnder(Root, "mimic");
        Directory.CreateDirectory(copiedDir);
        foreach (var f in Directory.EnumerateFiles(Dir)) File.Copy(f, Path.Combine(copiedDir, Path.GetFileName(f)));
        var teacher = Assert.Throws<CacheMismatchException>(() => StageCache.Open(Root, "mimic", copied, 2, CacheMode.Replay));
        Assert.Contains("teacher fingerprint teacher-a, expected teacher-c (another teacher)", teacher.Message);

        var shards = Assert.Throws<CacheMismatchException>(() => StageCache.Open(Root, "mimic", Key, 5, CacheMode.Replay));
        Assert.Contains("it records 2 shards, stage 'mimic' has 5", shards.Message);
    }

    [Fact]
    public void A_batch_of_another_teacher_or_not_arrow_is_never_written()
    {
        var cache = StageCache.Open(Root, "mimic", Key, 2, CacheMode.Reuse);
        var other = Assert.Throws<InvalidDataException>(() => cache.Write(0, Batch(0, teacher: "teacher-b")));
        Assert.Contains("shard 0", other.Message);
        Assert.Contains("teacher fingerprint teacher-b, the cache is for teacher teacher-a", other.Message);
        var garbage = Assert.Throws<InvalidDataException>(() => cache.Write(1, [1, 2, 3]));
        Assert.Contains("shard 1: the teacher batch cannot be cached", garbage.Message);
        Assert.Empty(CacheManifest.TryRead(Dir)!.Parts);
        Assert.Empty(Directory.EnumerateFiles(Dir, "part-*"));
    }

    [Fact]
    public void A_key_without_a_schema_takes_the_first_parts_and_then_holds_every_part_to_it()
    {
        var generic = Key with { Schema = null };
        var cache = StageCache.Open(Root, "mimic", generic, 2, CacheMode.Reuse);
        cache.Write(0, Batch(0));
        Assert.Equal("teacher/v2", CacheManifest.TryRead(Dir)!.Schema);
        var samples = SamplesV1.Write([new SampleRow("x", [1, 2, 3, 4], [1], [true], "count", null)], imageBytes: 4);
        var error = Assert.Throws<InvalidDataException>(() => cache.Write(1, samples));
        Assert.Contains("schema samples/v1, the cache holds teacher/v2", error.Message);
    }

    [Fact]
    public void Write_mode_starts_empty()
    {
        Filled(2);
        var cache = StageCache.Open(Root, "mimic", Key, 2, CacheMode.Write);
        Assert.Empty(cache.Available);
        Assert.False(File.Exists(Part(0)));
        Assert.False(CacheManifest.TryRead(Dir)!.Complete);
    }

    [Fact]
    public void Inventory_lists_entries_and_verify_names_every_bad_part()
    {
        Filled(3);
        var other = Key with { TeacherFingerprint = "teacher-b" };
        var second = StageCache.Open(Root, "mimic", other, 2, CacheMode.Reuse);
        second.Write(0, Batch(0, teacher: "teacher-b"));
        File.WriteAllBytes(Part(2), [9, 9, 9]);
        File.Delete(Part(0));

        var entries = CacheInventory.List(Root);
        Assert.Equal(2, entries.Count);
        Assert.Equal(("teacher-a", "mimic", "data0123456789ab-cfg-a"), entries[0].Layout);
        Assert.Equal((3, 6L, true), (entries[0].Manifest!.Parts.Count, entries[0].Manifest!.Rows, entries[0].Manifest!.Complete));

        var bad = CacheInventory.Verify(entries[0]);
        Assert.False(bad.Ok);
        Assert.Equal([Part(0), Part(2)], bad.Problems.Select(p => p.Path));
        Assert.Contains("file is missing", bad.Problems[0].Problem);
        Assert.Contains("3 bytes, the manifest records", bad.Problems[1].Problem);
        var good = CacheInventory.Verify(entries[1]);
        Assert.True(good.Ok);
        Assert.Throws<DirectoryNotFoundException>(() => CacheInventory.List(Path.Combine(Root, "nope")));
    }
}
