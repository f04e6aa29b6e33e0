using Distill.Models.Torch;
using Distill.Models;
using Distill.Models.Config;
using Distill.Models.Generation;
using Distill.Models.Mod;
using Distill.Models.Moe;
using Distill.Stages.Losses;
using Distill.Stages.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.GcStress.Tests;

/// <summary>Every model kind trained, evaluated and decoding while another thread runs full garbage collections
/// back to back. A Scalar or Tensor that TorchSharp hands to libtorch while nothing references it (an implicit
/// <c>double -> Scalar</c>, <c>a + b</c>'s alpha) is then finalized during the native call within seconds, and libtorch
/// fails with "INTERNAL ASSERT FAILED at c10/core/Scalar.h" or "Unknown scalar type" (or crashes). Also checked: no
/// tensor of a step is left to the finalizer (the thread's live-tensor count does not grow from step to step).</summary>
public sealed class GcStressTests
{
    private const int Steps = 60;
    private const int Batch = 8;
    private const int ImageToken = 31, Eos = 2, Pad = 0, ImagePatches = 16;

    public static TheoryData<string> Kinds => new() { "teacher", "dense", "moe", "mod" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Training_eval_and_cached_generation_survive_constant_full_collections(string kind)
    {
        torch.set_num_threads(1);
        torch.manual_seed(7);
        using var model = Build(kind);
        using var optimization = new Optimization(model.parameters(), new TrainOptions(1, 4, 1e-3, 0.01, 2, 7), Steps);
        using var pixels = torch.rand(Batch, 3, 16, 16);
        var prompts = Prompts(Batch, seed: 7);
        using var ids = Ids(prompts, 6);                                                       // [B,T] prompt + answer

        Step(model, optimization, pixels, ids, prompts, 0); // first step: optimiser moments, MoE/MoD buffers
        var liveAfterFirstStep = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        using var collector = new CollectorThread();
        for (var step = 1; step < Steps; step++)
        {
            try
            {
                Step(model, optimization, pixels, ids, prompts, step);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{kind}: step {step} of {Steps} failed under GC stress ({collector.Collections} collections so far)", e);
            }
        }
        collector.Stop();

        Assert.True(collector.Collections > Steps, $"only {collector.Collections} collections ran during {Steps} steps");
        Assert.Equal(liveAfterFirstStep, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    /// <summary>One training step with every loss the stages use, then an eval-mode forward, cached greedy and
    /// sampled generation and response scoring.</summary>
    private static void Step(VisionLanguageModel model, Optimization optimization, Tensor pixels, Tensor ids,
        IReadOnlyList<int[]> prompts, int step)
    {
        model.train();
        using (var scope = NewDisposeScope())
        {
            var logits = model.Forward(pixels, ids);                                            // [B,T,V]
            var flat = logits.narrow(1, 0, ids.shape[1] - 1).reshape(-1, logits.shape[2]);     // [N,V]
            var targets = ids.narrow(1, 1, ids.shape[1] - 1).reshape(-1);                       // [N]
            using var teacher = TeacherTargets.FromLogits(flat.detach() * Scalars.Of(1.5), k: 8);
            var losses = new[]
            {
                TokenLoss.CrossEntropy(flat, targets).mean(),
                SparseKl.Forward(flat, teacher.Ids, teacher.Logprobs, teacher.TailLogprob).mean(),
                SparseKl.Reverse(flat, teacher.Ids, teacher.Logprobs, teacher.TailLogprob, temperature: 2.0).mean(),
                SparseJsd.Compute(flat, teacher.Ids, teacher.Logprobs, teacher.TailLogprob, beta: 0.5).mean(),
                new KdObjective(Divergence.Jsd, 0.3, 2.0).PerPosition(flat, teacher.Ids, teacher.Logprobs, teacher.TailLogprob).mean(),
                Preference(model, pixels, prompts, step),
            };
            var loss = torch.stack(losses).sum();
            if (model.Config.Text.Moe is not null) loss = loss.add(model.MoeAuxLoss(), Scalars.One);
            if (model.Config.Text.Mod is not null) loss = loss.add(model.ModRoutingLoss(), Scalars.One);
            optimization.Step(loss);
        }

        // Eval without a dispose scope around the calls: whatever a model method leaves undisposed stays alive on
        // this thread (checked by the caller), and nothing the native calls read is rooted by an outer scope.
        model.eval();
        using var noGrad = torch.no_grad();
        using (var bigPixels = pixels.repeat(4, 1, 1, 1))
        using (var bigIds = ids.repeat(4, 1))
        using (var logits = model.Forward(bigPixels, bigIds))                                  // a larger eval batch
        using (var predicted = logits.argmax(-1))
            Assert.Equal(bigIds.shape, predicted.shape);
        Assert.All(model.GenerateGreedy(pixels, prompts, maxNewTokens: 4, Eos, Pad), tokens => Assert.InRange(tokens.Length, 0, 4));
        var sampled = model.Generate(pixels, prompts, new GenerationOptions(4, Eos, Pad, Temperature: 0.8, TopP: 0.9, Seed: step, ReturnLogProbs: true));
        Assert.All(sampled.LogProbs!, p => Assert.All(p, v => Assert.True(v <= 0)));
        using var features = model.EncodeImages(pixels);
        var scored = ResponseScorer.Score(model, features, prompts, prompts.Select(_ => new[] { 5, 6, 7 }).ToList(), Pad);
        using (scored.Sum)
        using (var best = scored.Sum.max())
            Assert.True(Scalars.ToDouble(best) < 0, "a response's summed log-probability must be negative");
    }

    /// <summary>The three preference losses and RPO's NLL term on pairs scored by the model against itself.</summary>
    private static Tensor Preference(VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, int step)
    {
        using var scope = NewDisposeScope();
        var features = model.EncodeImages(pixels);
        var chosen = ResponseScorer.Score(model, features, prompts, prompts.Select(_ => new[] { 5, 6 }).ToList(), Pad);
        var rejected = ResponseScorer.Score(model, features, prompts, prompts.Select(_ => new[] { 7, 8, 9 }).ToList(), Pad);
        Tensor referenceChosen = chosen.Sum.detach() - Scalars.Of(0.1 * (step % 3)), referenceRejected = rejected.Sum.detach();
        var total = PreferenceLoss.ChosenNll(chosen.Sum, chosen.Counts);
        foreach (var kind in new[] { PreferenceLossKind.Sigmoid, PreferenceLossKind.KtoPair, PreferenceLossKind.Ipo })
            total = total.add(PreferenceLoss.Compute(kind, 0.1, chosen.Sum, rejected.Sum, referenceChosen, referenceRejected), Scalars.One);
        return total.MoveToOuterDisposeScope();
    }

    private static VisionLanguageModel Build(string kind)
    {
        var teacher = kind == "teacher";
        var config = new VlmConfig(
            new VisionConfig(ImageSize: 16, PatchSize: 4, HiddenSize: 16, IntermediateSize: 32, Layers: 2, Heads: 2) { HiddenAct = "gelu" },
            new DecoderConfig(VocabSize: 32, HiddenSize: teacher ? 32 : 16, IntermediateSize: teacher ? 64 : 32, Layers: 4,
                Heads: 2, KvHeads: 1),
            ImageTokenId: ImageToken)
        { VisionFeatureLayer = -2 };
        var model = new VisionLanguageModel(config);
        if (kind is "moe" or "mod") model.UpcycleToMoe(new MoeConfig(Experts: 4, TopK: 2, TrainCapacityFactor: 1.0, Layers: [0, 1, 2, 3]));
        if (kind is "mod") model.ConvertToMod(new ModConfig([1, 2], SkipRatio: 0.5, PrefillThreshold: 0.3));
        return model;
    }

    /// <summary>BOS, the image tokens, then a few text tokens; rows of different lengths.</summary>
    private static IReadOnlyList<int[]> Prompts(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(i => new[] { 1 }.Concat(Enumerable.Repeat(ImageToken, ImagePatches))
                .Concat(Enumerable.Range(0, 2 + i).Select(_ => random.Next(3, ImageToken))).ToArray())
            .ToList();
    }

    /// <summary>Every prompt followed by <paramref name="answer"/> tokens, right-padded to one length: [B,T] int64.</summary>
    private static Tensor Ids(IReadOnlyList<int[]> prompts, int answer)
    {
        var rows = prompts.Select(p => p.Concat(Enumerable.Range(3, answer)).ToArray()).ToList();
        var length = rows.Max(r => r.Length);
        var flat = rows.SelectMany(r => r.Concat(Enumerable.Repeat(Pad, length - r.Length)).Select(x => (long)x)).ToArray();
        return torch.tensor(flat, [rows.Count, length]);
    }

    /// <summary>A thread that runs <c>GC.Collect(); GC.WaitForPendingFinalizers()</c> without pause until stopped.</summary>
    private sealed class CollectorThread : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;

        public CollectorThread()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Collections++;
                }
            }) { IsBackground = true, Name = "gc-stress" };
            _thread.Start();
        }

        public int Collections { get; private set; }

        public void Stop()
        {
            _stop = true;
            _thread.Join();
        }

        public void Dispose()
        {
            if (!_stop) Stop();
        }
    }
}
