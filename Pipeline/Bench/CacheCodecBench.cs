using System.Globalization;
using Distill.Models.Torch;
using Distill.Stages.Arrow;
using Distill.Stages.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>Options of <see cref="CacheCodecBench"/>. The teacher's logits are those of a random LM head of Qwen2-0.5B's
/// shape over random hidden states, plus a unigram prior:
/// <c>z_T[n, j] = LogitScale * (h_n . w_j) - ZipfExponent * ln(j + 1)</c>, h_n ~ N(0, I_Hidden) (unit RMS, as after the
/// final RMSNorm), w_j ~ N(0, HeadStd^2) (Qwen2's initialisation), the ids ordered by frequency as a BPE vocabulary
/// roughly is. The prior is the part of a trained LM's logits that does not depend on the context (its log unigram
/// frequency, Zipf with exponent about 1); LogitScale stands for the trained head's scale, chosen so that the mean
/// entropy is realistic (about 2 nats: <see cref="CacheCodecResult.TeacherEntropy"/> reports it). The student is
/// correlated with the teacher: <c>z_S = z_T + StudentNoise * LogitScale * (h_n . w'_j)</c> with an independent head
/// w' of the same law (a student that gets part of the context term wrong).</summary>
public sealed record CacheCodecBenchOptions
{
    public const int Qwen2Vocab = 151_646;

    public int VocabSize { get; init; } = Qwen2Vocab;

    /// <summary>Qwen2-0.5B's hidden size.</summary>
    public int Hidden { get; init; } = 896;

    public int Tokens { get; init; } = 512;

    public IReadOnlyList<int> TopKs { get; init; } = [16, 32, 64, 128];

    public double HeadStd { get; init; } = 0.02;

    public double LogitScale { get; init; } = 10.0;

    public double ZipfExponent { get; init; } = 1.0;

    public double StudentNoise { get; init; } = 0.3;

    /// <summary>The codec's layout: float16 log-probs, step bits, finest step (nats).</summary>
    public int ExactCount { get; init; } = TopKCodecOptions.DefaultExactCount;

    public int DeltaBits { get; init; } = TopKCodecOptions.DefaultDeltaBits;

    public double BaseStep { get; init; } = TopKCodecOptions.DefaultBaseStep;

    /// <summary>Positions per row of the <c>teacher/v1</c>-style list part (one sample's response).</summary>
    public int PositionsPerRow { get; init; } = 64;

    /// <summary>Tokens whose [n, V] logits are in memory at once.</summary>
    public int Chunk { get; init; } = 32;

    public long Seed { get; init; } = 15;

    public TopKCodecOptions Codec(int k) => new(VocabSize, k, Math.Min(ExactCount, k), DeltaBits, BaseStep);
}

/// <summary>What the cached top-K costs and what it keeps (issue 15, item 3): for each K and
/// <see cref="CacheCodecSetting"/>, the bytes per token of an Arrow part holding the teacher's top-K output and the
/// cosine between the gradient w.r.t. the student logits of the sparse KL that training computes from the decoded
/// part (<see cref="KdObjective.ForwardKl"/>: top-K + tail buckets, autograd) and the gradient of the exact dense
/// KL(p_T || q_S) over the whole vocabulary, <c>softmax(z_S) - softmax(z_T)</c> per token. The distribution is
/// described on <see cref="CacheCodecBenchOptions"/>.</summary>
public static class CacheCodecBench
{
    public static CacheCodecResult Run(CacheCodecBenchOptions options, Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        int n = options.Tokens, v = options.VocabSize;
        var ks = options.TopKs;
        var compactSettings = new[] { false, true }; // decoded as float16 lists, as the codec's records
        var dot = new double[ks.Count, 2, n];
        var sparseNorm = new double[ks.Count, 2, n];
        var denseNorm = new double[n];
        var tailMass = new double[ks.Count];
        var cached = ks.Select(k => (Ids: new int[n * k], Logprobs: new float[n * k], Tails: new float[n])).ToArray();
        var codecs = ks.Select(k => new TopKCodec(options.Codec(k))).ToArray();
        double entropy = 0, top1 = 0, kl = 0;
        var idCounts = new Dictionary<int, int>();

        torch.manual_seed(options.Seed);
        using var scope = torch.NewDisposeScope();
        Tensor head, studentHead, prior;
        using (torch.no_grad())
        {
            head = torch.randn(v, options.Hidden).mul_(Scalars.Of(options.HeadStd * options.LogitScale));        // [V,H]
            studentHead = torch.randn(v, options.Hidden)
                .mul_(Scalars.Of(options.HeadStd * options.LogitScale * options.StudentNoise));                    // [V,H]
            prior = Scalars.Arange(1, v + 1).to_type(ScalarType.Float32).log_().mul_(Scalars.Of(-options.ZipfExponent)); // [V]
        }
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"  cache codec: vocabulary {v}, {n} tokens, K {string.Join(", ", ks)}, hidden {options.Hidden}, seed {options.Seed}"));

        for (int start = 0; start < n; start += options.Chunk)
        {
            ct.ThrowIfCancellationRequested();
            int m = Math.Min(options.Chunk, n - start);
            using var chunk = torch.NewDisposeScope();
            Tensor teacher, student, dense;
            using (torch.no_grad())
            {
                var hidden = torch.randn(m, options.Hidden);                                            // [m,H]
                teacher = hidden.matmul(head.t()).add_(prior, Scalars.One);                                          // [m,V]
                student = hidden.matmul(studentHead.t()).add_(teacher, Scalars.One);                                 // [m,V]
                var logP = teacher.log_softmax(-1);                                                     // [m,V]
                var logQ = student.log_softmax(-1);                                                     // [m,V]
                var p = logP.exp();
                dense = logQ.exp().sub_(p);                                                             // [m,V] d KL / d z_S
                entropy += (p * logP).sum().neg().item<float>();
                top1 += p.max(-1).values.sum().item<float>();
                kl += (p * (logP - logQ)).sum().item<float>();
                var norms = (dense * dense).sum(-1).data<float>().ToArray();                             // [m]
                for (int i = 0; i < m; i++) denseNorm[start + i] = norms[i];
            }
            for (int ki = 0; ki < ks.Count; ki++)
            {
                int k = ks[ki];
                using var perK = torch.NewDisposeScope();
                using var targets = TeacherTargets.FromLogits(teacher, k);
                var ids = targets.Ids.to_type(ScalarType.Int32).data<int>().ToArray();                   // [m*K]
                var logprobs = targets.Logprobs.data<float>().ToArray();                                // [m*K]
                var tails = targets.TailLogprob.data<float>().ToArray();                                // [m]
                ids.CopyTo(cached[ki].Ids, start * k);
                logprobs.CopyTo(cached[ki].Logprobs, start * k);
                tails.CopyTo(cached[ki].Tails, start);
                foreach (var t in tails) tailMass[ki] += Math.Exp(t);
                if (ki == ks.Count - 1) foreach (var id in ids) idCounts[id] = idCounts.GetValueOrDefault(id) + 1;

                var exact = new TopKTokens(k, ids, logprobs, tails);
                var decodedCompact = codecs[ki].Decode(codecs[ki].Encode(exact));
                foreach (bool compact in compactSettings)
                {
                    var (lp, tail) = compact
                        ? (decodedCompact.Logprobs, decodedCompact.Tails)
                        : (logprobs.Select(x => (float)(Half)x).ToArray(), tails); // teacher/v1: float16 log-probs, float32 tail
                    var grad = SparseGradient(student, targets.Ids, torch.tensor(lp, [m, k]), torch.tensor(tail, [m]));  // [m,V]
                    var dots = (grad * dense).sum(-1).data<float>().ToArray();
                    var norms = (grad * grad).sum(-1).data<float>().ToArray();
                    int si = compact ? 1 : 0;
                    for (int i = 0; i < m; i++)
                    {
                        dot[ki, si, start + i] = dots[i];
                        sparseNorm[ki, si, start + i] = norms[i];
                    }
                }
            }
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"  cache codec: {start + m} of {n} tokens"));
        }

        var rows = new List<CacheCodecRow>();
        for (int ki = 0; ki < ks.Count; ki++)
        {
            int k = ks[ki];
            var tokens = new TopKTokens(k, cached[ki].Ids, cached[ki].Logprobs, cached[ki].Tails);
            foreach (var setting in CacheCodecSettings.All)
            {
                int si = setting.IsCompact() ? 1 : 0;
                var compression = setting is CacheCodecSetting.Float16Zstd or CacheCodecSetting.CompactZstd ? IpcCompression.Zstd : IpcCompression.None;
                byte[] part = setting.IsCompact()
                    ? CompactTopKPart.Write(codecs[ki], tokens, compression)
                    : TopKListPart.Write(tokens, options.PositionsPerRow, compression);
                int record = setting.IsCompact() ? codecs[ki].BytesPerToken : 6 * k + 4;
                double whole = 0, sparse = 0, denseTotal = 0, min = double.PositiveInfinity, mean = 0;
                for (int t = 0; t < n; t++)
                {
                    whole += dot[ki, si, t];
                    sparse += sparseNorm[ki, si, t];
                    denseTotal += denseNorm[t];
                    double c = dot[ki, si, t] / Math.Sqrt(sparseNorm[ki, si, t] * denseNorm[t]);
                    min = Math.Min(min, c);
                    mean += c / n;
                }
                rows.Add(new CacheCodecRow(v, k, setting, n, part.LongLength, record, whole / Math.Sqrt(sparse * denseTotal), min, mean,
                    tailMass[ki] / n));
            }
        }
        double total = idCounts.Values.Sum();
        double idBits = idCounts.Values.Sum(c => -c / total * Math.Log2(c / total));
        return new CacheCodecResult(options, entropy / n, top1 / n, kl / n, idBits, rows);
    }

    /// <summary>d/d z_S of sum over tokens of the training loss's forward KL over the top-K + tail buckets, by
    /// autograd: student [m,V], ids [m,K], logprobs [m,K], tails [m] -> [m,V].</summary>
    private static Tensor SparseGradient(Tensor student, Tensor ids, Tensor logprobs, Tensor tails)
    {
        using var scope = torch.NewDisposeScope();
        var leaf = student.detach().requires_grad_(true);
        var loss = KdObjective.ForwardKl.PerPosition(leaf, ids, logprobs, tails).sum();
        loss.backward();
        return leaf.grad!.detach().clone().MoveToOuterDisposeScope();
    }

    private static void Validate(CacheCodecBenchOptions o)
    {
        if (o.VocabSize < 2) throw new ArgumentOutOfRangeException(nameof(o), $"cache codec bench: vocabulary {o.VocabSize} below 2");
        if (o.Tokens < 1 || o.Chunk < 1 || o.Hidden < 1 || o.PositionsPerRow < 1)
            throw new ArgumentOutOfRangeException(nameof(o), "cache codec bench: tokens, chunk, hidden and positions per row must be at least 1");
        if (o.TopKs.Count == 0 || o.TopKs.Any(k => k < 1 || k > o.VocabSize) || o.TopKs.Distinct().Count() != o.TopKs.Count)
            throw new ArgumentOutOfRangeException(nameof(o), $"cache codec bench: K {string.Join(", ", o.TopKs)} must be distinct, in 1..{o.VocabSize}");
    }
}
