using Distill.Models.Torch;
using System.Buffers.Binary;
using System.Text;
using Distill.Models.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>CheckpointFiles (reading a single or sharded checkpoint into existing tensors) and CheckpointWriter, on
/// small hand-made files.</summary>
public sealed class CheckpointFilesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "distill-ckptio-" + Guid.NewGuid().ToString("N"));

    public CheckpointFilesTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Bytes(Tensor t)
    {
        using var c = t.cpu().contiguous();
        return c.bytes.ToArray();
    }

    private static string[] FileNames(string dir) => Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void EveryDtypeRoundTripsExactly()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var tensors = new (string Name, Tensor Tensor)[]
        {
            ("f64", torch.randn(3, 4, dtype: ScalarType.Float64)),
            ("f32", torch.randn(2, 3, 2)),
            ("f16", torch.randn(7).to_type(ScalarType.Float16)),
            ("bf16", torch.randn(5, 1).to_type(ScalarType.BFloat16)),
            ("i64", torch.tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }, [2, 2])),
            ("i32", torch.tensor(new[] { int.MinValue, -7, 0, int.MaxValue, 12345 })),
            ("i16", torch.tensor(new short[] { short.MinValue, -1, short.MaxValue })),
            ("i8", torch.tensor(new sbyte[] { sbyte.MinValue, -1, 0, sbyte.MaxValue })),
            ("u8", torch.tensor(new byte[] { 0, 1, 128, 255 })),
            ("bool", torch.tensor(new[] { true, false, false, true, true, false }, [3, 2])),
            ("scalar", torch.tensor(new[] { 2.5f }).reshape()),
            ("empty", torch.zeros(0, 3)),
        };
        var written = CheckpointWriter.Write(_dir, tensors, metadata: null, maxShardBytes: CheckpointWriter.TransformersMaxShardBytes);
        Assert.Equal(new[] { "model.safetensors" }, written);
        Assert.Equal(new[] { "model.safetensors" }, FileNames(_dir));   // no temp file left

        using var files = CheckpointFiles.Open(_dir);
        Assert.Equal(Path.Combine(_dir, "model.safetensors"), files.Source);
        Assert.Equal("pt", files.Metadata["format"]);
        Assert.Equal(new[] { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F32", "F32" },
            tensors.Select(t => files.Tensors[t.Name].DType).ToArray());
        Assert.Equal(tensors.Sum(t => t.Tensor.numel() * t.Tensor.ElementSize), files.TotalBytes);
        foreach (var (name, tensor) in tensors)
        {
            Assert.Equal(tensor.shape, files.Tensors[name].Shape);
            var target = torch.full(tensor.shape, Scalars.One, dtype: tensor.dtype);
            files.ReadInto(name, target);
            Assert.Equal(Bytes(tensor), Bytes(target));
        }
    }

    [Fact]
    public void ShardedCheckpointRoundTripsWithTransformersIndex()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(6);
        var embed = torch.randn(10, 10);                                        // 400 bytes
        var steps = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });   // 80 bytes
        var big = torch.randn(300).to_type(ScalarType.BFloat16);                // 600 bytes: over the limit, alone
        var head = torch.randn(50);                                             // 200 bytes
        var tensors = new[] { ("model.embed_tokens.weight", embed), ("model.steps", steps), ("lm_head.big", big), ("a.head", head) };
        File.WriteAllText(Path.Combine(_dir, "model.safetensors"), "stale single file");
        File.WriteAllText(Path.Combine(_dir, "model-00001-of-00007.safetensors"), "stale shard");
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{}");
        File.WriteAllText(Path.Combine(_dir, "model-notes.safetensors"), "not a shard name");

        var written = CheckpointWriter.Write(_dir, tensors, new Dictionary<string, string> { ["format"] = "pt", ["by"] = "distill" },
            maxShardBytes: 500);

        var shard1 = "model-00001-of-00003.safetensors";
        var shard2 = "model-00002-of-00003.safetensors";
        var shard3 = "model-00003-of-00003.safetensors";
        Assert.Equal(new[] { shard1, shard2, shard3, "model.safetensors.index.json" }, written);
        Assert.Equal(new[] { "config.json", shard1, shard2, shard3, "model-notes.safetensors", "model.safetensors.index.json" },
            FileNames(_dir));
        Assert.Equal(
            "{\n" +
            "  \"metadata\": {\n" +
            "    \"total_size\": 1280\n" +
            "  },\n" +
            "  \"weight_map\": {\n" +
            "    \"a.head\": \"model-00003-of-00003.safetensors\",\n" +
            "    \"lm_head.big\": \"model-00002-of-00003.safetensors\",\n" +
            "    \"model.embed_tokens.weight\": \"model-00001-of-00003.safetensors\",\n" +
            "    \"model.steps\": \"model-00001-of-00003.safetensors\"\n" +
            "  }\n" +
            "}\n",
            File.ReadAllText(Path.Combine(_dir, "model.safetensors.index.json")));
        Assert.Equal(new[] { "model.embed_tokens.weight", "model.steps" },
            SafeTensors.ReadHeader(Path.Combine(_dir, shard1)).Tensors.Select(t => t.Name).ToArray());
        Assert.Equal("distill", SafeTensors.ReadHeader(Path.Combine(_dir, shard2)).Metadata["by"]);

        using (var files = CheckpointFiles.Open(_dir))
        {
            Assert.EndsWith("model.safetensors.index.json", files.Source);
            Assert.Equal(1280, files.TotalBytes);
            Assert.Equal("1280", files.Metadata["total_size"]);
            Assert.Equal(3, files.Files.Count);
            Assert.Equal(Path.Combine(_dir, shard2), files.Tensors["lm_head.big"].File);
            Assert.Equal(Path.Combine(_dir, shard3), files.Tensors["a.head"].File);
            foreach (var (name, tensor) in tensors)
            {
                var target = torch.zeros_like(tensor);
                files.ReadInto(name, target);
                Assert.Equal(Bytes(tensor), Bytes(target));
            }
        }

        // Back to one file: the shards and the index go, the other files stay.
        CheckpointWriter.Write(_dir, tensors, null, maxShardBytes: 10_000);
        Assert.Equal(new[] { "config.json", "model-notes.safetensors", "model.safetensors" }, FileNames(_dir));
        using var single = CheckpointFiles.Open(_dir);
        Assert.Equal(1280, single.TotalBytes);
    }

    [Fact]
    public void ShardPlanFollowsTheOrderAndTheLimit()
    {
        using var scope = torch.NewDisposeScope();
        var t = (long n) => torch.zeros(n);   // 4 bytes an element
        var written = CheckpointWriter.Write(_dir, new[] { ("a", t(25)), ("b", t(25)), ("c", t(1)), ("d", t(30)) }, null, maxShardBytes: 200);
        Assert.Equal(new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json" }, written);
        using var files = CheckpointFiles.Open(_dir);
        Assert.EndsWith("00001-of-00002.safetensors", files.Tensors["b"].File);   // 100 + 100 = 200 fits
        Assert.EndsWith("00002-of-00002.safetensors", files.Tensors["c"].File);
        Assert.EndsWith("00002-of-00002.safetensors", files.Tensors["d"].File);
    }

    [Fact]
    public void FloatFilesConvertAsTorchConverts()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var f32 = torch.randn(64, 33).mul(Scalars.Of(1000.0));                  // needs rounding to bf16 / f16
        var bf16 = torch.randn(40, 3).to_type(ScalarType.BFloat16);
        var f16 = torch.randn(17).to_type(ScalarType.Float16);
        var f64 = torch.randn(9, dtype: ScalarType.Float64);
        CheckpointWriter.Write(_dir, new[] { ("f32", f32), ("bf16", bf16), ("f16", f16), ("f64", f64) }, null, 1L << 30);
        using var files = CheckpointFiles.Open(_dir);

        void Check(string name, Tensor source, ScalarType to)
        {
            var target = torch.empty(source.shape, to);
            files.ReadInto(name, target);
            Assert.Equal(to, target.dtype);
            Assert.Equal(Bytes(source.to_type(to)), Bytes(target));
        }
        Check("bf16", bf16, ScalarType.Float32);
        Check("f32", f32, ScalarType.BFloat16);
        Check("f32", f32, ScalarType.Float16);
        Check("f32", f32, ScalarType.Float64);
        Check("f16", f16, ScalarType.BFloat16);
        Check("f64", f64, ScalarType.Float32);
        Check("bf16", bf16, ScalarType.Float64);
    }

    [Fact]
    public void StridedAndOffsetTargetsAreFilled()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(8);
        var source = torch.randn(4, 3);
        CheckpointWriter.Write(_dir, new[] { ("w", source), ("h", source.to_type(ScalarType.BFloat16)) }, null, 1L << 30);
        using var files = CheckpointFiles.Open(_dir);

        var transposed = torch.zeros(3, 4).t();                      // [4,3], not contiguous
        Assert.False(transposed.is_contiguous());
        files.ReadInto("w", transposed);
        Assert.Equal(Bytes(source), Bytes(transposed));

        var transposedHalf = torch.zeros(3, 4, dtype: ScalarType.Float16).t();
        files.ReadInto("h", transposedHalf);                         // BF16 file into a strided F16 target
        Assert.Equal(Bytes(source.to_type(ScalarType.BFloat16).to_type(ScalarType.Float16)), Bytes(transposedHalf));

        var rows = torch.full(6, 3, Scalars.Of(-1.0));
        using (var middle = rows.narrow(0, 1, 4))                    // contiguous, at an offset in its storage
        {
            Assert.True(middle.is_contiguous());
            files.ReadInto("w", middle);
        }
        Assert.Equal(Bytes(source), Bytes(rows.narrow(0, 1, 4)));
        Assert.Equal(Enumerable.Repeat(-1f, 3), rows[0].data<float>().ToArray());
        Assert.Equal(Enumerable.Repeat(-1f, 3), rows[5].data<float>().ToArray());

        var parameter = new TorchSharp.Modules.Parameter(torch.zeros(4, 3));      // requires grad: read under no_grad
        files.ReadInto("w", parameter);
        Assert.Equal(Bytes(source), Bytes(parameter));
        Assert.True(parameter.requires_grad);
    }

    [Fact]
    public void ReadIntoRefusesMismatchesNamingBothSides()
    {
        using var scope = torch.NewDisposeScope();
        CheckpointWriter.Write(_dir, new[]
        {
            ("layer.weight", torch.zeros(2, 3)),
            ("ids", torch.zeros(4, dtype: ScalarType.Int64)),
        }, null, 1L << 30);
        using var files = CheckpointFiles.Open(_dir);
        var path = Path.Combine(_dir, "model.safetensors");

        var e = Assert.Throws<InvalidDataException>(() => files.ReadInto("layer.weight", torch.zeros(3, 2)));
        Assert.Contains(path, e.Message);
        Assert.Contains("'layer.weight'", e.Message);
        Assert.Contains("shape mismatch", e.Message);
        Assert.Contains("file F32[2,3]", e.Message);
        Assert.Contains("target F32[3,2]", e.Message);

        e = Assert.Throws<InvalidDataException>(() => files.ReadInto("ids", torch.zeros(4)));
        Assert.Contains("'ids'", e.Message);
        Assert.Contains("unsupported conversion", e.Message);
        Assert.Contains("file I64[4]", e.Message);
        Assert.Contains("target F32[4]", e.Message);

        e = Assert.Throws<InvalidDataException>(() => files.ReadInto("ids", torch.zeros(4, dtype: ScalarType.Int32)));
        Assert.Contains("unsupported conversion", e.Message);
        e = Assert.Throws<InvalidDataException>(() => files.ReadInto("layer.weight", torch.zeros(2, 3, dtype: ScalarType.Int32)));
        Assert.Contains("target I32[2,3]", e.Message);
        Assert.Throws<KeyNotFoundException>(() => files.ReadInto("nope", torch.zeros(1)));
        files.Dispose();
        Assert.Throws<ObjectDisposedException>(() => files.ReadInto("ids", torch.zeros(4, dtype: ScalarType.Int64)));
    }

    /// <summary>A safetensors file written byte by byte, for dtypes Distill does not write.</summary>
    private static void WriteRaw(string path, string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void QuantisedDtypesAreListedByNameAndRefusedOnRead()
    {
        var path = Path.Combine(_dir, "model.safetensors");
        WriteRaw(path, "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,4],\"data_offsets\":[0,8]},"
                       + "\"q\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                       + "\"s\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[16,18]}}", 18);
        using var files = CheckpointFiles.Open(_dir);
        Assert.Equal("F8_E4M3", files.Tensors["w"].DType);
        Assert.Equal("U32", files.Tensors["q"].DType);
        Assert.Equal(2, files.Tensors["s"].ByteCount);
        using var target = torch.zeros(2, 4);
        var e = Assert.Throws<InvalidDataException>(() => files.ReadInto("w", target));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("unsupported dtype F8_E4M3", e.Message);
        Assert.Contains(path, e.Message);
        e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("F8_E4M3", e.Message);

        WriteRaw(path, "{\"s\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2);   // 12 bits
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains("not a whole number of bytes", e.Message);
    }

    [Fact]
    public void TensorNamedTwiceInOneHeaderIsRefused()
    {
        var path = Path.Combine(_dir, "model.safetensors");
        WriteRaw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("bad safetensors header", e.Message);
    }

    /// <summary>Three shards: a+b in the first, c in the second, d in the third.</summary>
    private string WriteThreeShards()
    {
        using var scope = torch.NewDisposeScope();
        CheckpointWriter.Write(_dir, new[]
        {
            ("a", torch.ones(20)), ("b", torch.ones(20)), ("c", torch.ones(40)), ("d", torch.ones(30)),
        }, null, maxShardBytes: 160);
        return Path.Combine(_dir, "model.safetensors.index.json");
    }

    private string Shard(int i) => Path.Combine(_dir, $"model-0000{i}-of-00003.safetensors");

    private void RewriteShard(int i, params string[] names)
    {
        using var scope = torch.NewDisposeScope();
        SafeTensors.Write(Shard(i), names.Select(n => (n, torch.ones(1))));
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(_dir, e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => CheckpointFiles.Open(Path.Combine(_dir, "nowhere")));

        var index = WriteThreeShards();
        File.Delete(Shard(2));
        e = Assert.Throws<FileNotFoundException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(index, e.Message);
        Assert.Contains("model-00002-of-00003.safetensors", e.Message);
        Assert.Contains("'c'", e.Message);
    }

    [Fact]
    public void ShardsThatDisagreeWithTheIndexAreRefused()
    {
        var index = WriteThreeShards();
        using (CheckpointFiles.Open(_dir)) { }

        RewriteShard(1, "a");                                   // b missing from its shard
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(Shard(1), e.Message);
        Assert.Contains("lacks tensor 'b'", e.Message);

        WriteThreeShards();
        RewriteShard(3, "d", "extra.weight");                   // a tensor the index does not list
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(Shard(3), e.Message);
        Assert.Contains("'extra.weight'", e.Message);
        Assert.Contains("does not list", e.Message);

        WriteThreeShards();
        RewriteShard(3, "d", "a");                              // a in shards 1 and 3
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains("'a' is in two shards", e.Message);
        Assert.Contains("model-00001-of-00003.safetensors", e.Message);
        Assert.Contains("model-00003-of-00003.safetensors", e.Message);

        WriteThreeShards();
        RewriteShard(3, "d", "c");                              // c moved into shard 3: shard 2 lacks it... in both
        RewriteShard(2, "x");
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains("'x'", e.Message);
        Assert.Contains(index, e.Message);
    }

    [Fact]
    public void ShardPathsOutsideTheDirectoryAreRefused()
    {
        var index = WriteThreeShards();
        var outside = Path.Combine(Path.GetTempPath(), "distill-outside-" + Guid.NewGuid().ToString("N") + ".safetensors");
        File.Copy(Shard(3), outside);
        try
        {
            foreach (var shard in new[] { "../" + Path.GetFileName(outside), outside, "sub/../../" + Path.GetFileName(outside) })
            {
                File.WriteAllText(index, File.ReadAllText(index).Replace("model-00003-of-00003.safetensors", shard));
                var e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
                Assert.Contains(index, e.Message);
                Assert.Contains("outside the checkpoint directory", e.Message);
                Assert.Contains(shard, e.Message);
                WriteThreeShards();
            }
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Fact]
    public void MalformedIndexIsReportedWithLineAndPosition()
    {
        var index = WriteThreeShards();
        File.WriteAllText(index, "{\n  \"metadata\": {},\n  \"weight_map\": {\"a\" \"model-00001-of-00003.safetensors\"}\n}\n");
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(index, e.Message);
        Assert.Contains("malformed JSON at line 3, position 22", e.Message);

        File.WriteAllText(index, "{\"metadata\": {}}");
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains("no \"weight_map\"", e.Message);
        File.WriteAllText(index, "{\"weight_map\": {\"a\": 3}}");
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains("weight_map entry 'a'", e.Message);
        File.WriteAllText(index, "{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"y.safetensors\"}}");
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(index, e.Message);
    }

    [Fact]
    public void TruncatedShardIsRefusedAtOpen()
    {
        WriteThreeShards();
        var bytes = File.ReadAllBytes(Shard(2));
        File.WriteAllBytes(Shard(2), bytes[..^4]);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(Shard(2), e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("'c'", e.Message);

        File.WriteAllBytes(Shard(2), bytes[..5]);
        e = Assert.Throws<InvalidDataException>(() => CheckpointFiles.Open(_dir));
        Assert.Contains(Shard(2), e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void WriterCopiesStridedTensorsAndRefusesDuplicates()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(9);
        var source = torch.randn(5, 7);
        CheckpointWriter.Write(_dir, new[] { ("t", source.t()) }, null, 1L << 30);
        using (var files = CheckpointFiles.Open(_dir))
        {
            Assert.Equal(new long[] { 7, 5 }, files.Tensors["t"].Shape);
            var target = torch.empty(7, 5);
            files.ReadInto("t", target);
            Assert.Equal(Bytes(source.t()), Bytes(target));
        }
        var e = Assert.Throws<ArgumentException>(() => CheckpointWriter.Write(_dir, new[] { ("x", source), ("x", source) }, null, 1L << 30));
        Assert.Contains("'x'", e.Message);
    }

    private static long StatusKb(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]);
    }

    /// <summary>Reading a 200 MB tensor adds (beyond its target) no managed buffer and at most one staging chunk of
    /// native memory. VmHWM is reset through /proc/self/clear_refs so the peak is this read's.</summary>
    [Fact]
    public void LargeReadDoesNotHoldTheFileTwice()
    {
        const long elements = 50_000_000;   // 200 MB of F32
        using (var source = torch.arange(Scalars.Zero, Scalars.Of(elements), Scalars.One, ScalarType.Float32))
            CheckpointWriter.Write(_dir, new[] { ("big", source) }, null, 1L << 40);
        using var files = CheckpointFiles.Open(_dir);
        Assert.Equal(elements * 4, files.TotalBytes);

        void Measure(ScalarType type, long boundMb)
        {
            using var target = torch.zeros(elements, dtype: type);   // its pages are touched here, before the read
            GC.Collect();
            var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var rssBefore = StatusKb("VmRSS");
            File.WriteAllText("/proc/self/clear_refs", "5");       // reset the peak (VmHWM) to the current RSS
            files.ReadInto("big", target);
            var peakMb = (StatusKb("VmHWM") - rssBefore) / 1024;
            var allocatedMb = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (1024 * 1024);
            var managedMb = (GC.GetTotalMemory(forceFullCollection: false) - managedBefore) / (1024 * 1024);
            Assert.True(peakMb < boundMb, $"{type}: peak RSS rose by {peakMb} MB reading a 200 MB tensor");
            Assert.True(allocatedMb < 4, $"{type}: {allocatedMb} MB managed allocated");
            Assert.True(managedMb < 4, $"{type}: managed heap grew by {managedMb} MB");
            using var sample = target.narrow(0, 12_345_678, 1);   // exact in F32 (below 2^24)
            Assert.Equal(12_345_678.0, Scalars.ToDouble(sample));
        }
        Measure(ScalarType.Float32, boundMb: 64);    // straight into the target's storage
        Measure(ScalarType.Float64, boundMb: 100);   // through one 32 MB staging chunk
    }
}
