using Distill.Pipeline.Runs;
using System.Diagnostics;
using Distill.Stages.Data.Llava;
using Distill.Stages.Images;
using Distill.Stages.Text;
using SkiaSharp;

namespace Distill.Pipeline.Bench;

/// <summary>One measured configuration of the loader path.</summary>
public sealed record DataBenchRow(int Loaders, int Samples, double Seconds, long? PeakRssBytes)
{
    public double SamplesPerSecond => Samples / Seconds;
}

/// <summary>What <c>bench data</c> measured: the loader path with 1 and 2 loaders, and the reader streaming a large
/// dataset (peak RSS before and after); and the teacher's samples/s on the same samples, from its forward FLOPs at
/// the matmul rate measured here (<see cref="TeacherEstimate"/>).</summary>
public sealed record DataBenchResult(int Photos, string Tokenizer, IReadOnlyList<DataBenchRow> Loaders,
    int Streamed, double StreamSeconds, long? RssBeforeStreamBytes, long? PeakDuringStreamBytes)
{
    public TeacherEstimate? Teacher { get; init; }
}

/// <summary>A teacher's forward pass over the bench's samples (mean text length, its image tokens) in FLOPs, and the
/// samples per second that is at <paramref name="Gflops"/>, the float32 matmul rate measured on this machine: an
/// upper bound for the teacher (a forward reaches at most the matmul rate).</summary>
public sealed record TeacherEstimate(string Model, long Parameters, int TextTokens, long FlopsPerSample, double Gflops)
{
    public double SamplesPerSecond => Gflops * 1e9 / FlopsPerSample;
}

/// <summary><c>bench data</c>: renders JPEG photographs of 640x480 (gradients, shapes and noise, quality 90), writes a
/// LLaVA JSONL over them, and times the loader path on them: read the sample, decode the JPEG, pad to square, resize,
/// crop and normalise with LLaVA-1.5's CLIP-336 processor, apply the ChatML template and tokenize, with 1 and 2 loader
/// threads. Then it streams a JSONL of many samples through the reader alone and reports peak RSS, to show that a
/// large dataset's samples are never in memory at once.</summary>
public static class DataBench
{
    public const int Width = 640, Height = 480;

    /// <param name="teacherDir">a LLaVA folder whose config.json gives the teacher to compare with (weights not needed), or null.</param>
    public static DataBenchResult Run(string directory, string tokenizerDir, int photos, int streamed, int seed,
        Action<string> progress, CancellationToken ct, string? teacherDir = null)
    {
        var images = Path.Combine(directory, "images");
        Directory.CreateDirectory(images);
        progress($"  rendering {photos} JPEG photos of {Width}x{Height} into {images}");
        var random = new Random(seed);
        for (int i = 0; i < photos; i++)
        {
            ct.ThrowIfCancellationRequested();
            Render(Path.Combine(images, $"{i:D5}.jpg"), random);
        }
        var data = Path.Combine(directory, "train.jsonl");
        WriteSamples(data, photos, photos);
        var processorDir = Path.Combine(directory, "processor");
        Directory.CreateDirectory(processorDir);
        File.WriteAllText(Path.Combine(processorDir, ImageProcessorConfig.FileName), Clip336);

        if (!File.Exists(Path.Combine(tokenizerDir, HfTokenizer.TokenizerFile)))
            throw new FileNotFoundException(
                $"bench data needs a tokenizer.json: {Path.Combine(tokenizerDir, HfTokenizer.TokenizerFile)} is missing (tests/fixtures/tokenizers/fetch.sh brings Qwen3's, or give --tokenizer DIR)",
                Path.Combine(tokenizerDir, HfTokenizer.TokenizerFile));
        var tokenizer = ImageTokenTokenizer.Create(tokenizerDir, Path.Combine(directory, "tokenizer"));
        var loader = new ImageLoader(ImageProcessors.Load(processorDir), ImageAspectMode.Pad);
        var encoder = new ConversationEncoder(tokenizer, new ChatMlTemplate(), loader, maxLength: 2048);
        var rows = new List<DataBenchRow>();
        int meanText = 0;
        foreach (var loaders in (int[])[1, 2])
        {
            ct.ThrowIfCancellationRequested();
            var budget = new BadSampleBudget();
            var samples = LlavaConversationReader.Read(data, images, budget).ToList();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ProcessMemory.ReleaseFreed();
            ProcessMemory.ResetPeak();
            var clock = Stopwatch.StartNew();
            var done = 0;
            long textTokens = 0;
            // A loader's unit is a shard: its samples encoded, then written as one samples/v1 Arrow batch.
            Parallel.ForEach(samples.Chunk(ShardSize), new ParallelOptions { MaxDegreeOfParallelism = loaders, CancellationToken = ct }, shard =>
            {
                var shardRows = new List<Distill.Stages.Arrow.SampleRow>(shard.Length);
                foreach (var sample in shard)
                {
                    var e = encoder.Encode(sample, budget) ?? throw new InvalidDataException($"bench sample {sample.Id} was refused: {budget.Bad[^1]}");
                    shardRows.Add(new Distill.Stages.Arrow.SampleRow(e.Id, e.Image!.Pixels, e.InputIds, e.Labels, "conversation", null));
                    Interlocked.Add(ref textTokens, e.InputIds.Length - 1);
                }
                Distill.Stages.Arrow.SamplesV1.Write(shardRows, shardRows[0].Image.Length);
                Interlocked.Add(ref done, shard.Length);
            });
            meanText = (int)Math.Round((double)textTokens / Math.Max(done, 1));
            rows.Add(new DataBenchRow(loaders, done, clock.Elapsed.TotalSeconds, ProcessMemory.Peak));
            progress($"  {loaders} loader(s): {done} samples in {clock.Elapsed.TotalSeconds:F2} s ({done / clock.Elapsed.TotalSeconds:F1} samples/s)");
        }

        var big = Path.Combine(directory, "stream.jsonl");
        WriteSamples(big, streamed, photos);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ReleaseFreed();
        var before = ProcessMemory.Rss;
        ProcessMemory.ResetPeak();
        var streamClock = Stopwatch.StartNew();
        var count = 0;
        foreach (var _ in LlavaConversationReader.Read(big, images, new BadSampleBudget()))
        {
            if (++count % 10_000 == 0) ct.ThrowIfCancellationRequested();
        }
        progress($"  streamed {count} samples through the reader in {streamClock.Elapsed.TotalSeconds:F2} s");
        var peak = ProcessMemory.Peak;
        return new DataBenchResult(photos, Path.GetFileName(Path.GetFullPath(tokenizerDir)), rows, count,
            streamClock.Elapsed.TotalSeconds, before, peak)
        { Teacher = teacherDir is null ? null : Estimate(teacherDir, meanText, progress) };
    }

    /// <summary>Samples in one loader shard (the pipeline's default shard size is larger; 16 keeps 1000 photos in many shards).</summary>
    public const int ShardSize = 16;

    private static TeacherEstimate Estimate(string teacherDir, int textTokens, Action<string> progress)
    {
        var config = Distill.Models.Checkpoints.Checkpoint.ReadConfig(teacherDir).Vlm
            ?? throw new InvalidDataException($"{teacherDir}: not a LLaVA config.json");
        var flops = Distill.Models.Accounting.FlopAccounting.Forward(config, Distill.Models.Accounting.SequenceShape.ForImage(config, textTokens)).Total;
        var gflops = MatmulProbe.Gflops(TorchSharp.torch.ScalarType.Float32, 2048, 3);
        var estimate = new TeacherEstimate(Path.GetFileName(Path.GetFullPath(teacherDir)), Distill.Models.Accounting.ParameterAccounting.Count(config).Total,
            textTokens, flops, gflops);
        progress($"  teacher {estimate.Model}: {flops / 1e12:F2} TFLOP per sample at {gflops:F0} GFLOP/s: at most {estimate.SamplesPerSecond:F3} samples/s");
        return estimate;
    }

    /// <summary>A photo-like JPEG: a two-colour gradient, a few filled shapes, per-pixel noise.</summary>
    private static void Render(string path, Random random)
    {
        using var bitmap = new SKBitmap(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(Width, Height),
                [Colour(random), Colour(random)], SKShaderTileMode.Clamp);
            using var background = new SKPaint { Shader = shader };
            canvas.DrawRect(0, 0, Width, Height, background);
            using var fill = new SKPaint { IsAntialias = true };
            for (int s = 0; s < 6; s++)
            {
                fill.Color = Colour(random);
                canvas.DrawCircle(random.Next(Width), random.Next(Height), random.Next(20, 120), fill);
            }
        }
        var pixels = bitmap.GetPixelSpan();
        var noisy = pixels.ToArray();
        for (int i = 0; i < noisy.Length; i += 4)
            for (int c = 0; c < 3; c++) noisy[i + c] = (byte)Math.Clamp(noisy[i + c] + random.Next(-12, 13), 0, 255);
        using var image = SKImage.FromPixelCopy(bitmap.Info, noisy);
        using var encoded = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        using var file = File.Create(path);
        encoded.SaveTo(file);
    }

    private static SKColor Colour(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));

    /// <summary>A JSONL of <paramref name="count"/> two-turn samples over the photos, cycling through them.</summary>
    private static void WriteSamples(string path, int count, int photos)
    {
        using var writer = new StreamWriter(path);
        for (int i = 0; i < count; i++)
            writer.WriteLine($$"""{"id": "s{{i}}", "image": "{{i % photos:D5}}.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is in the picture, and what colour is the largest shape?"}, {"from": "gpt", "value": "A few round shapes over a gradient; the largest is a muted colour near sample {{i}}."}]}""");
    }

    /// <summary>LLaVA-1.5's processor (openai/clip-vit-large-patch14-336).</summary>
    private const string Clip336 = """
        {"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 336}, "resample": 3,
         "do_center_crop": true, "crop_size": {"height": 336, "width": 336}, "do_rescale": true,
         "rescale_factor": 0.00392156862745098, "do_normalize": true,
         "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
         "do_convert_rgb": true}
        """;
}
