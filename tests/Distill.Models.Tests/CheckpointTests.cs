using System.Buffers.Binary;
using System.Text;
using Distill.Models.Checkpoints;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "distill-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void SaveThenLoadGivesIdenticalLogits()
    {
        using var model = Tiny(seed: 3, featureLayer: -2);
        Checkpoint.Save(model, _dir);
        Assert.Equal(new[] { "config.json", "model.safetensors" },
            Directory.GetFiles(_dir).Select(Path.GetFileName).Order().ToArray());   // no temp files left
        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(2, 8);
        var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10));
        Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids), loaded.Forward(pixels, ids)));
    }

    [Fact]
    public void ConfigJsonIsHuggingFaceLlava()
    {
        using var model = Tiny(featureLayer: -2);
        Checkpoint.Save(model, _dir);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        Assert.Equal("LlavaForConditionalGeneration", (string)json["architectures"]![0]!);
        Assert.Equal("llava", (string)json["model_type"]!);
        Assert.Equal(ImageToken, (int)json["image_token_index"]!);
        Assert.Equal("gelu", (string)json["projector_hidden_act"]!);
        Assert.Equal(-2, (int)json["vision_feature_layer"]!);
        Assert.Equal("default", (string)json["vision_feature_select_strategy"]!);
        Assert.Equal("clip_vision_model", (string)json["vision_config"]!["model_type"]!);
        Assert.Equal(4, (int)json["vision_config"]!["patch_size"]!);
        Assert.Equal("gelu", (string)json["vision_config"]!["hidden_act"]!);
        Assert.Equal("llama", (string)json["text_config"]!["model_type"]!);
        Assert.Equal(2, (int)json["text_config"]!["num_key_value_heads"]!);
        Assert.Equal(10000.0, (double)json["text_config"]!["rope_theta"]!);
        Assert.False((bool)json["text_config"]!["tie_word_embeddings"]!);
        Assert.Equal(model.Config, HfConfigJson.Parse(json.ToJsonString()).Vlm);
    }

    [Fact]
    public void TiedModelRoundTrips()
    {
        using var model = Tiny(seed: 4, tie: true);
        Checkpoint.Save(model, _dir);
        using var loaded = Checkpoint.Load(_dir);
        Assert.True(loaded.Config.Text.TieWordEmbeddings);
        Assert.Equal(model.ParameterCount(), loaded.ParameterCount());
    }

    [Fact]
    public void HalfBFloatAndInt64RoundTrip()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(9);
        var f16 = torch.randn(3, 5).to_type(ScalarType.Float16);
        var bf16 = torch.randn(4).to_type(ScalarType.BFloat16);
        var i64 = torch.tensor(new long[] { long.MinValue, -1, 0, 7, long.MaxValue, 1L << 40 }, [2, 3]);
        var f32 = torch.randn(2, 2);
        var empty = torch.zeros(0, 3);
        var path = Path.Combine(_dir, "mixed.safetensors");
        SafeTensors.Write(path, new[] { ("a.f16", f16), ("b.bf16", bf16), ("c.i64", i64), ("d.f32", f32), ("e.empty", empty) },
            new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });

        var (infos, metadata, _) = SafeTensors.ReadHeader(path);
        Assert.Equal(new[] { "F16", "BF16", "I64", "F32", "F32" }, infos.Select(i => i.DType).ToArray());
        Assert.Equal("x", metadata["note"]);
        var back = SafeTensors.Read(path);
        Assert.Equal(ScalarType.Float16, back["a.f16"].dtype);
        Assert.Equal(ScalarType.BFloat16, back["b.bf16"].dtype);
        Assert.Equal(ScalarType.Int64, back["c.i64"].dtype);
        Assert.True(back["a.f16"].eq(f16).all().item<bool>());
        Assert.True(back["b.bf16"].eq(bf16).all().item<bool>());
        Assert.Equal(i64.data<long>().ToArray(), back["c.i64"].data<long>().ToArray());
        Assert.Equal(new long[] { 2, 3 }, back["c.i64"].shape);
        Assert.True(back["d.f32"].eq(f32).all().item<bool>());
        Assert.Equal(new long[] { 0, 3 }, back["e.empty"].shape);
        foreach (var t in back.Values) t.Dispose();
    }

    [Fact]
    public void FileLayoutFollowsTheSpec()
    {
        using var scope = torch.NewDisposeScope();
        var path = Path.Combine(_dir, "one.safetensors");
        SafeTensors.Write(path, new[] { ("w", torch.tensor(new float[] { 1.5f, -2f }, [2])) });
        var bytes = File.ReadAllBytes(path);
        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength).TrimEnd(' ');
        Assert.Equal("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", header);
        Assert.Equal(8 + headerLength + 8, bytes.Length);
        Assert.Equal(1.5f, BitConverter.ToSingle(bytes, 8 + (int)headerLength));
        Assert.Equal(-2f, BitConverter.ToSingle(bytes, 8 + (int)headerLength + 4));
    }

    private string SaveTiny()
    {
        using var model = Tiny();
        Checkpoint.Save(model, _dir);
        return Path.Combine(_dir, "model.safetensors");
    }

    /// <summary>Rewrites model.safetensors with the model's tensors after <paramref name="edit"/>.</summary>
    private string RewriteWeights(Action<Dictionary<string, Tensor>> edit)
    {
        var path = SaveTiny();
        var tensors = SafeTensors.Read(path);
        edit(tensors);
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)));
        return path;
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        RewriteWeights(t => t.Remove("language_model.model.layers.1.mlp.up_proj.weight"));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("missing tensor", e.Message);
        Assert.Contains("language_model.model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        // A CLIP tower's patch convolution has no bias (SigLIP's has one).
        RewriteWeights(t => t["vision_tower.vision_model.embeddings.patch_embedding.bias"] = torch.ones(16));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("unexpected tensor", e.Message);
        Assert.Contains("vision_tower.vision_model.embeddings.patch_embedding.bias", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void ShapeMismatchIsNamed()
    {
        RewriteWeights(t => t["multi_modal_projector.linear_2.bias"] = torch.zeros(23));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("'multi_modal_projector.linear_2.bias' has shape [23] in the file", e.Message);
        Assert.Contains("the model expects [24]", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void DtypeMismatchIsNamed()
    {
        // Float weights of another width load converted to the model's dtype; an integer (quantised) one is refused.
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(12);
        var half = torch.randn(24).to_type(ScalarType.Float16);
        RewriteWeights(t => t["language_model.model.norm.weight"] = half);
        using (var loaded = Checkpoint.Load(_dir))
        {
            var norm = loaded.state_dict()["language_model.model.norm.weight"];
            Assert.Equal(ScalarType.Float32, norm.dtype);
            Assert.Equal(0f, MaxAbsDiff(norm, half.to_type(ScalarType.Float32)));
        }

        RewriteWeights(t => t["language_model.model.norm.weight"] = torch.ones(24, dtype: ScalarType.Int64));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("'language_model.model.norm.weight' is I64", e.Message);
        Assert.Contains("F32, F16 and BF16", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void TruncatedFileNamesFileAndTensor()
    {
        var path = SaveTiny();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("language_model.lm_head.weight", e.Message);   // the last tensor written

        File.WriteAllBytes(path, bytes[..100]);                          // inside the header
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("truncated", e.Message);
        File.WriteAllBytes(path, bytes[..3]);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void BadHeaderIsReported()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        Directory.CreateDirectory(_dir);
        void WriteRaw(string header, int dataBytes)
        {
            var json = Encoding.UTF8.GetBytes(header);
            var bytes = new byte[8 + json.Length + dataBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
            json.CopyTo(bytes, 8);
            File.WriteAllBytes(path, bytes);
        }

        WriteRaw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2]", 8);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("bad safetensors header", e.Message);
        Assert.Contains(path, e.Message);

        WriteRaw("{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8);
        e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("bad safetensors header for tensor 'w'", e.Message);

        WriteRaw("{\"w\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
        e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("unsupported dtype 'Q4'", e.Message);

        WriteRaw("{\"w\": {\"dtype\": \"F32\", \"shape\": \"two\", \"data_offsets\": [0, 8]}}", 8);
        e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("'w'", e.Message);

        var huge = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue);
        File.WriteAllBytes(path, huge);
        e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path));
        Assert.Contains("bad safetensors header", e.Message);
    }

    [Fact]
    public void BadConfigNamesTheKey()
    {
        SaveTiny();
        var configPath = Path.Combine(_dir, "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!;
        json["text_config"]!["vocab_size"] = "thirty-two";
        File.WriteAllText(configPath, json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("text_config.vocab_size", e.Message);
        Assert.Contains("expected an integer", e.Message);
        Assert.Contains("config.json", e.Message);

        // A key left out takes transformers' default (num_key_value_heads = num_attention_heads = 4), which these
        // weights (2 kv heads of 6) do not fit: the loader names the tensor.
        json["text_config"]!["vocab_size"] = 32;
        json["text_config"]!.AsObject().Remove("num_key_value_heads");
        File.WriteAllText(configPath, json.ToJsonString());
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains("'language_model.model.layers.0.self_attn.k_proj.weight' has shape [12,24] in the file, the model expects [24,24]", e.Message);
    }
}
