using System.Text.Json;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Tests;
using Distill.Stages.Text;
using SkiaSharp;
using static TorchSharp.torch;

namespace Distill.Pipeline.Tests;

/// <summary>The whole pipeline on a user's data: a Hugging Face LLaVA teacher (CLIP tower, Llama LM, written here
/// with a real SentencePiece tokenizer plus LLaVA's &lt;image&gt; token, a CLIP preprocessor_config.json and a
/// generation_config.json), a LLaVA-format JSONL dataset of photographs the test draws (PNG, JPEG, WebP and BMP of
/// several sizes, multi-turn conversations), one bad entry of each kind, a held-out split by ratio, a test file, a POPE
/// file, CHAIR captions with their vocabulary and an RLAIF-V pair file. Every stage runs: teacher (checked), sft,
/// mimic, preference, mod and eval.</summary>
public class LlavaPipelineTests
{
    private const int Vocab = 32064;   // the tokenizer's 32000 + <image>, padded as LLaVA-1.5 checkpoints pad it

    /// <summary>The bad entries, by id (or line), and a word of the reason each must be reported with.</summary>
    private static readonly (string Sample, string Reason)[] BadEntries =
    [
        ("'missing'", "not found"), ("'empty'", "empty"), ("'truncated'", "truncated"), ("'not-an-image'", "not an image"),
        ("'escapes'", "escapes the image folder"), ("line 3", "malformed JSON"), ("'no-conversations'", "conversations"),
        ("'no-answer'", "no answer"), ("'wrong-order'", "wrong order"), ("'too-long'", "maximum length"), ("'icon'", "not supported"),
    ];

    [Fact]
    public async Task A_hugging_face_teacher_and_a_llava_dataset_run_every_stage_with_bad_entries_reported_and_counted()
    {
        using var dir = new TempDir();
        var teacher = WriteTeacher(Path.Combine(dir.Path, "teacher"));
        var data = WriteDataset(Path.Combine(dir.Path, "data"));
        var before = FolderSnapshot.Of(data);

        var config = ConfigLoader.Load(new ConfigSources
        {
            Preset = "tiny",
            ConfigFile = Path.Combine(HoconLocator.TryFind()!, "examples", "llava.conf"),
            RunDir = Path.Combine(dir.Path, "run"),
            Overrides =
            [
                $"distill.teacher.checkpoint = \"{teacher}\"", $"distill.data.train = \"{Path.Combine(data, "train.jsonl")}\"",
                $"distill.data.test = \"{Path.Combine(data, "test.jsonl")}\"", $"distill.data.pope = \"{Path.Combine(data, "pope_random.jsonl")}\"",
                $"distill.data.chair = \"{Path.Combine(data, "chair.jsonl")}\"", $"distill.data.chair-vocabulary = \"{Path.Combine(data, "objects.json")}\"",
                "distill.data.chat-template = vicuna_v1", "distill.data.max-length = 160", "distill.data.long-samples = skip",
                "distill.data.held-out-ratio = 0.2", "distill.data.labelled-images = 4", "distill.data.max-bad-fraction = 0.3",
                "distill.model.max-positions = 256",
                "distill.model.student.hidden-size = 32", "distill.model.student.intermediate-size = 64", "distill.model.student.layers = 2", "distill.model.student.heads = 2", "distill.model.student.kv-heads = 1",
                "distill.mimic.batch-size = 8", "distill.parallelism.shard-size = 8",
                "distill.preference.sources = [dataset, student-sampled]", "distill.preference.prompts = 8", "distill.preference.heldout-prompts = 4", "distill.preference.batch-size = 8", "distill.preference.max-new-tokens = 6",
                $"distill.preference.dataset-file = \"{Path.Combine(data, "pairs.jsonl")}\"",
                "distill.mod.batch-size = 8", "distill.mod.calibration-samples = 4", "distill.mod.keep-first = 0", "distill.mod.keep-last = 0", "distill.mod.target-fraction = 0.5",
                "distill.eval.batch-size = 8", "distill.eval.speed-prompts = 2",
            ],
        });
        var (loaded, paths) = RunDirectory.Create(config, DateTimeOffset.UtcNow);
        var outcome = await PipelineHost.RunAsync(loaded.Settings, paths, NullStageProgress.Instance, CancellationToken.None);
        Assert.True(outcome.ExitCode == 0, outcome.Failure?.Detail?.Text ?? outcome.Failure?.Error);

        // The user's folder is only read.
        Assert.Equal(before, FolderSnapshot.Of(data));

        // Each bad entry reported once, with its reason, in logs/bad-samples.txt; counted in the ledger and the report.
        var bad = File.ReadAllLines(Path.Combine(paths.Logs, RunData.BadSamplesFile));
        Assert.Equal(BadEntries.Length, bad.Length);
        foreach (var (sample, reason) in BadEntries)
            Assert.Single(bad, line => line.Contains($"sample {sample}:") && line.Contains(reason, StringComparison.OrdinalIgnoreCase));
        var ledger = new RunLedger(paths.Ledger).ReadAll();
        var dataEntry = Assert.Single(ledger, e => e.Stage == "data");
        Assert.Equal(BadEntries.Length, dataEntry.Figures!["bad_samples"]);
        Assert.Equal(GoodTrain + BadEntries.Length, dataEntry.Figures["samples_read"] - TestSamples - PopeProbes - ChairImages);
        var report = File.ReadAllText(paths.Report);
        Assert.Contains($"{BadEntries.Length} bad (skipped; listed in logs/{RunData.BadSamplesFile})", report);
        Assert.Contains("The probes of distill.data.pope", report);
        foreach (var stage in new[] { "teacher", "sft", "mimic", "preference", "mod", "eval" })
            Assert.Contains(ledger, e => e.Stage == stage && e.Status == RunLedgerStatus.Completed);

        // The teacher's outputs went through the cache.
        var parts = Directory.GetFiles(StageCaches.RootOf(loaded.Settings, paths.Root), "part-*.arrow", SearchOption.AllDirectories);
        Assert.NotEmpty(parts);

        // Every student is a Hugging Face LLaVA directory with the teacher's tokenizer and processor.
        var teacherTokenizer = HfTokenizer.Load(teacher);
        foreach (var student in new[] { "sft", "student-dense", "student-moe", "student-pref", "student-mod" })
        {
            var path = Path.Combine(paths.Checkpoints, student);
            using var model = Checkpoint.Load(path);
            Assert.Equal(Vocab, model.Config.Text.VocabSize);
            Assert.Equal(32000, model.Config.ImageTokenId);
            Assert.Equal(teacherTokenizer.Hash, HfTokenizer.Load(path).Hash);
            Assert.Equal(File.ReadAllText(Path.Combine(teacher, "preprocessor_config.json")), File.ReadAllText(Path.Combine(path, "preprocessor_config.json")));
        }
        Assert.Equal(teacherTokenizer.Hash, HfTokenizer.Load(paths.Export).Hash);

        // Eval answered the test file (VQA match), the POPE probes and the CHAIR prompts.
        var results = EvaluationStage.ReadResults(Path.Combine(paths.Root, "eval"));
        Assert.Contains(results, r => r.Model == "teacher");
        foreach (var r in results)
        {
            Assert.Equal(TestSamples, r.Families.Single(f => f.Family == "vqa").Total);
            Assert.Equal(PopeProbes, r.Families.Single(f => f.Family == "existence").Total);
            Assert.Equal(ChairImages, r.Chair!.Captions);
            Assert.Equal("random", Assert.Single(r.Pope).Setting);
        }
    }

    private const int GoodTrain = 30, TestSamples = 4, PopeProbes = 4, ChairImages = 3;

    /// <summary>A random LLaVA teacher as Hugging Face saves one: CLIP tower (32 px, 8 px patches, 16 features), a
    /// 2-layer Llama over the llama2 tokenizer with &lt;image&gt; at 32000.</summary>
    private static string WriteTeacher(string directory)
    {
        var tokenizer = ImageTokenTokenizer.Create(TokenizerFixtures.TokenizerDir("llama2"), directory);
        Assert.Equal(32000, tokenizer.TokenToId("<image>"));
        manual_seed(7);
        var vision = new VisionConfig(ImageSize: 32, PatchSize: 8, HiddenSize: 32, IntermediateSize: 64, Layers: 2, Heads: 2);
        var config = new VlmConfig(vision, new DecoderConfig(Vocab, 48, 96, 2, 2, 1, MaxPositions: 256), 32000) { VisionFeatureLayer = -2 };
        using (var model = new VisionLanguageModel(config)) Checkpoint.Save(model, directory, new GenerationConfig(1, [2], null, MaxNewTokens: 8));
        File.WriteAllText(Path.Combine(directory, "preprocessor_config.json"), """
            {"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 32}, "resample": 3,
             "do_center_crop": true, "crop_size": {"height": 32, "width": 32}, "do_rescale": true, "rescale_factor": 0.00392156862745098,
             "do_normalize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}
            """);
        return directory;
    }

    /// <summary>The user's folder: photographs, the training JSONL with its bad entries, and the eval files.</summary>
    private static string WriteDataset(string root)
    {
        var images = Path.Combine(root, "images");
        Directory.CreateDirectory(images);
        string[] colours = ["red", "green", "blue"];
        var photos = new List<string>();
        var formats = new (string Ext, SKEncodedImageFormat? Format, int W, int H)[]
        {
            ("png", SKEncodedImageFormat.Png, 40, 30), ("jpg", SKEncodedImageFormat.Jpeg, 64, 48), ("webp", SKEncodedImageFormat.Webp, 50, 50),
            ("bmp", null, 30, 36), ("jpg", SKEncodedImageFormat.Jpeg, 48, 64), ("png", SKEncodedImageFormat.Png, 33, 33),
        };
        for (int i = 0; i < formats.Length; i++)
        {
            var (ext, format, w, h) = formats[i];
            var name = $"photo{i}.{ext}";
            var bitmap = Photo(w, h, colours[i % 3], i);
            File.WriteAllBytes(Path.Combine(images, name), format is { } f ? Encode(bitmap, f) : Bmp(bitmap));
            photos.Add($"images/{name}");
        }
        File.WriteAllBytes(Path.Combine(images, "empty.png"), []);
        var jpeg = File.ReadAllBytes(Path.Combine(images, "photo1.jpg"));
        File.WriteAllBytes(Path.Combine(images, "truncated.jpg"), jpeg[..(jpeg.Length / 2)]);
        File.WriteAllText(Path.Combine(images, "notes.png"), "this is not an image");
        File.WriteAllBytes(Path.Combine(images, "icon.ico"), Ico(Encode(Photo(16, 16, "red", 9), SKEncodedImageFormat.Png)));
        File.WriteAllText(Path.Combine(root, "..", "secret.png"), "outside the image folder");

        var lines = new List<string>();
        string Sample(string id, string? image, params (string From, string Value)[] turns) => JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["id"] = id, ["image"] = image,
            ["conversations"] = turns.Select(t => new Dictionary<string, string> { ["from"] = t.From, ["value"] = t.Value }).ToList(),
        });
        for (int i = 0; i < GoodTrain; i++)
        {
            var photo = i % formats.Length;
            var colour = colours[photo % 3];
            lines.Add(i % 5 == 0
                ? Sample($"s{i}", photos[photo], ("human", "<image>\nWhat colour is the box?"), ("gpt", $"The box is {colour}."),
                    ("human", "Is there a ball?"), ("gpt", photo % 2 == 0 ? "Yes, a small ball." : "No."))
                : Sample($"s{i}", photos[photo], ("human", i % 2 == 0 ? "<image>\nDescribe the picture." : "What is shown?\n<image>"), ("gpt", $"A {colour} box on a grey floor.")));
            if (i == 1) lines.Add("{\"id\": \"broken\", \"image\": "); // line 3: malformed
        }
        lines.Add(Sample("missing", "images/nope.jpg", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        lines.Add(Sample("empty", "images/empty.png", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        lines.Add(Sample("truncated", "images/truncated.jpg", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        lines.Add(Sample("not-an-image", "images/notes.png", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        lines.Add(Sample("escapes", "../secret.png", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        lines.Add(Sample("no-conversations", photos[0]));
        lines.Add(Sample("no-answer", photos[0], ("human", "<image>\nWhat is it?")));
        lines.Add(Sample("wrong-order", photos[0], ("gpt", "A box."), ("human", "<image>\nWhat is it?")));
        lines.Add(Sample("too-long", photos[0], ("human", "<image>\n" + string.Join(' ', Enumerable.Repeat("Please look closely at the picture.", 100))), ("gpt", "A box.")));
        lines.Add(Sample("icon", "images/icon.ico", ("human", "<image>\nWhat is it?"), ("gpt", "A box.")));
        File.WriteAllLines(Path.Combine(root, "train.jsonl"), lines);

        File.WriteAllLines(Path.Combine(root, "test.jsonl"), Enumerable.Range(0, TestSamples).Select(i =>
            Sample($"t{i}", photos[i], ("human", "<image>\nWhat colour is the box?"), ("gpt", colours[i % 3]))));
        File.WriteAllLines(Path.Combine(root, "pope_random.jsonl"), Enumerable.Range(0, PopeProbes).Select(i => JsonSerializer.Serialize(
            new { question_id = i, image = photos[i], text = "Is there a ball in the image?", label = i % 2 == 0 ? "yes" : "no" })));
        File.WriteAllLines(Path.Combine(root, "chair.jsonl"), Enumerable.Range(0, ChairImages).Select(i => JsonSerializer.Serialize(
            new { id = $"c{i}", image = photos[i], objects = i % 2 == 0 ? new[] { "box", "ball" } : ["box"] })));
        File.WriteAllText(Path.Combine(root, "objects.json"), """{"box": ["box", "boxes", "crate"], "ball": ["ball", "balls"], "cat": ["cat", "kitten"]}""");
        File.WriteAllLines(Path.Combine(root, "pairs.jsonl"), Enumerable.Range(0, 3).Select(i => JsonSerializer.Serialize(
            new { id = $"p{i}", image = photos[i], question = "<image>\nWhat colour is the box?", chosen = $"The box is {colours[i % 3]}.", rejected = "There is a cat." })));
        return root;
    }

    /// <summary>A photograph-like scene: a graded background, a coloured box and, on even ones, a ball.</summary>
    private static SKBitmap Photo(int w, int h, string colour, int seed)
    {
        var bitmap = new SKBitmap(w, h, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var canvas = new SKCanvas(bitmap);
        using var sky = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(0, h), [new SKColor(180, 200, 230), new SKColor(90, 90, 90)], SKShaderTileMode.Clamp) };
        canvas.DrawRect(0, 0, w, h, sky);
        var c = colour switch { "red" => SKColors.Red, "green" => SKColors.Green, _ => SKColors.Blue };
        using var box = new SKPaint { Color = c, IsAntialias = true };
        canvas.DrawRect(w * 0.2f, h * 0.4f, w * 0.4f, h * 0.4f, box);
        if (seed % 2 == 0)
        {
            using var ball = new SKPaint { Color = SKColors.Yellow, IsAntialias = true };
            canvas.DrawCircle(w * 0.75f, h * 0.7f, Math.Min(w, h) * 0.12f, ball);
        }
        return bitmap;
    }

    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A 24-bit bottom-up BMP (Skia does not write BMP).</summary>
    private static byte[] Bmp(SKBitmap bitmap)
    {
        int w = bitmap.Width, h = bitmap.Height, row = (w * 3 + 3) / 4 * 4, size = 54 + row * h;
        var bytes = new byte[size];
        void U32(int at, int v) => BitConverter.GetBytes(v).CopyTo(bytes, at);
        bytes[0] = (byte)'B'; bytes[1] = (byte)'M'; U32(2, size); U32(10, 54); U32(14, 40); U32(18, w); U32(22, h);
        bytes[26] = 1; bytes[28] = 24; U32(34, row * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                var p = bitmap.GetPixel(x, h - 1 - y);
                int at = 54 + y * row + x * 3;
                (bytes[at], bytes[at + 1], bytes[at + 2]) = (p.Blue, p.Green, p.Red);
            }
        return bytes;
    }

    /// <summary>An ICO holding one PNG: a format Skia reads and Distill refuses.</summary>
    private static byte[] Ico(byte[] png)
    {
        var header = new byte[22];
        header[2] = 1; header[4] = 1;                           // type icon, one image
        header[6] = 16; header[7] = 16; header[10] = 1; header[12] = 32;
        BitConverter.GetBytes(png.Length).CopyTo(header, 14);
        BitConverter.GetBytes(22).CopyTo(header, 18);
        return [.. header, .. png];
    }
}
