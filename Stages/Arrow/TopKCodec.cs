using System.Buffers.Binary;

namespace Distill.Stages.Arrow;

/// <summary>Compact bytes for the teacher's top-K output of one token (issue 15, item 3): ids bit-packed, the largest
/// log-probs as float16, the rest as small quantised steps down from the one before, and the tail as float16.
/// <para>Every token takes two fixed-size records (all integers little-endian, bit fields least significant bit first,
/// see <see cref="BitPacking"/>). With B = ceil(log2(VocabSize)) (18 for Qwen2's 151,646: 2^17 = 131,072 is too few), E = ExactCount, Q = DeltaBits:</para>
/// <para><b>id record</b>, <see cref="IdBytes"/> = ceil(K*B/8) bytes: id i (in the order of the log-probs, largest
/// first) in stream bits [i*B, (i+1)*B); the unused high bits of the last byte are 0.</para>
/// <para><b>log-prob record</b>, <see cref="LogprobBytes"/> = 2E + 2 bytes, plus 1 + ceil((K-E)*Q/8) when K &gt; E:</para>
/// <list type="table">
/// <item><term>bytes [0, 2E)</term><description>lp_0 .. lp_{E-1} as IEEE float16, 2 bytes each.</description></item>
/// <item><term>bytes [2E, 2E+2)</term><description>the tail log-prob as float16.</description></item>
/// <item><term>byte 2E+2</term><description>e (uint8, at most <see cref="MaxExponent"/>): the token's step is
/// s = BaseStep * 2^e nats.</description></item>
/// <item><term>bytes 2E+3 ..</term><description>K-E step counts c_E .. c_{K-1}, Q bits each, packed from bit 0.
/// Decoding, in double precision: d_{E-1} = the float16 lp_{E-1}, d_i = d_{i-1} - c_i * s, lp_i = (float) d_i.</description></item>
/// </list>
/// <para>The encoder chooses each c_i = floor((d_{i-1} - lp_i) / s + 1/2) from the value the decoder will have
/// (closed loop), so errors do not add up, and the smallest e for which every c_i fits in Q bits.</para>
/// <para>Bounds, for the decoded values lp^ of true values lp: |lp^_i - lp_i| &lt;= max(|lp_i| 2^-11, 2^-25) for i &lt; E
/// and for the tail (float16 rounding); |lp^_i - lp_i| &lt;= s/2 (plus float32 rounding of the result) for i &gt;= E.
/// The decoded log-probs stay non-increasing (float16 rounding is monotone and every c_i &gt;= 0), and with
/// eps the largest error, |sum_i exp(lp^_i) + exp(tail^) - 1| &lt;= e^eps - 1 when the true values sum to 1. The tail
/// is stored, not recomputed, because 1 - sum exp(lp^) cancels when the top K hold nearly all the mass.</para></summary>
public sealed class TopKCodec
{
    /// <summary>Largest step exponent: BaseStep * 2^60 covers any gap between float16-range log-probs.</summary>
    public const int MaxExponent = 60;

    /// <summary>Smallest log-prob (and tail) accepted: the most negative finite float16.</summary>
    public const float MinLogprob = -65504f;

    public TopKCodec(TopKCodecOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.VocabSize < 2 || options.VocabSize > 1 << BitPacking.MaxBits - 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"top-K codec: VocabSize {options.VocabSize} must be in 2..2^30");
        if (options.TopK < 1 || options.TopK > options.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(options), $"top-K codec: TopK {options.TopK} must be in 1..VocabSize ({options.VocabSize})");
        if (options.ExactCount < 1 || options.ExactCount > options.TopK)
            throw new ArgumentOutOfRangeException(nameof(options), $"top-K codec: ExactCount {options.ExactCount} must be in 1..TopK ({options.TopK})");
        if (options.DeltaBits < 2 || options.DeltaBits > 8)
            throw new ArgumentOutOfRangeException(nameof(options), $"top-K codec: DeltaBits {options.DeltaBits} must be in 2..8");
        if (!(options.BaseStep > 0) || !double.IsFinite(options.BaseStep) || options.BaseStep > 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"top-K codec: BaseStep {options.BaseStep} must be in (0, 1] nats");
        Options = options;
        IdBits = BitPacking.BitsFor(options.VocabSize);
        IdBytes = BitPacking.Bytes(options.TopK, IdBits);
        Quantised = options.TopK - options.ExactCount;
        LogprobBytes = 2 * options.ExactCount + 2 + (Quantised > 0 ? 1 + BitPacking.Bytes(Quantised, options.DeltaBits) : 0);
    }

    public TopKCodecOptions Options { get; }

    /// <summary>B = ceil(log2(VocabSize)).</summary>
    public int IdBits { get; }

    /// <summary>Bytes of one token's id record.</summary>
    public int IdBytes { get; }

    /// <summary>Bytes of one token's log-prob record.</summary>
    public int LogprobBytes { get; }

    /// <summary>Both records of one token.</summary>
    public int BytesPerToken => IdBytes + LogprobBytes;

    /// <summary>K - E: the log-probs stored as step counts.</summary>
    public int Quantised { get; }

    private int K => Options.TopK;
    private int E => Options.ExactCount;
    private int MaxCount => (1 << Options.DeltaBits) - 1;

    /// <summary>Encodes every token; errors name the token and the position (<see cref="ArgumentException"/>).</summary>
    public CompactTopK Encode(TopKTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.TopK != K) throw new ArgumentException($"top-K codec: tokens have K = {tokens.TopK}, the codec K = {K}");
        int n = tokens.Count;
        if (tokens.Ids.Length != (long)n * K || tokens.Logprobs.Length != (long)n * K)
            throw new ArgumentException($"top-K codec: {tokens.Ids.Length} ids and {tokens.Logprobs.Length} log-probs for {n} tokens, " +
                                        $"expected tokens*K = {n}*{K} = {(long)n * K} of each");
        var ids = new byte[(long)n * IdBytes];
        var logprobs = new byte[(long)n * LogprobBytes];
        for (int t = 0; t < n; t++)
            EncodeToken(t, tokens.Ids.AsSpan(t * K, K), tokens.Logprobs.AsSpan(t * K, K), tokens.Tails[t],
                ids.AsSpan(t * IdBytes, IdBytes), logprobs.AsSpan(t * LogprobBytes, LogprobBytes));
        return new CompactTopK(n, ids, logprobs);
    }

    /// <summary>Decodes every token; a record that no encoder writes (an id outside the vocabulary, an exponent above
    /// <see cref="MaxExponent"/>, a NaN) is an <see cref="InvalidDataException"/> naming the token.</summary>
    public TopKTokens Decode(CompactTopK compact)
    {
        ArgumentNullException.ThrowIfNull(compact);
        int n = compact.Tokens;
        if (n < 0 || compact.Ids.Length != (long)n * IdBytes || compact.Logprobs.Length != (long)n * LogprobBytes)
            throw new InvalidDataException($"top-K codec: {compact.Ids.Length} id bytes and {compact.Logprobs.Length} log-prob bytes for " +
                                           $"{n} tokens, expected {(long)n * IdBytes} and {(long)n * LogprobBytes}");
        var ids = new int[(long)n * K];
        var logprobs = new float[(long)n * K];
        var tails = new float[n];
        for (int t = 0; t < n; t++)
            tails[t] = DecodeToken(t, compact.Ids.AsSpan(t * IdBytes, IdBytes), compact.Logprobs.AsSpan(t * LogprobBytes, LogprobBytes),
                ids.AsSpan(t * K, K), logprobs.AsSpan(t * K, K));
        return new TopKTokens(K, ids, logprobs, tails);
    }

    /// <summary>The quantisation step s of a log-prob record, in nats (0 when every log-prob is exact): the decoded
    /// log-probs from position E on are within s/2 of the encoded ones.</summary>
    public double StepOf(ReadOnlySpan<byte> logprobRecord)
    {
        if (logprobRecord.Length != LogprobBytes)
            throw new ArgumentException($"top-K codec: a log-prob record is {LogprobBytes} bytes, got {logprobRecord.Length}");
        return Quantised == 0 ? 0 : Step(logprobRecord[2 * E + 2]);
    }

    /// <summary>Writes one token's two records (zeroed buffers of <see cref="IdBytes"/> and <see cref="LogprobBytes"/>).</summary>
    public void EncodeToken(int token, ReadOnlySpan<int> ids, ReadOnlySpan<float> logprobs, float tail, Span<byte> idRecord, Span<byte> logprobRecord)
    {
        Check(token, ids, logprobs, tail);
        for (int i = 0; i < K; i++) BitPacking.Write(idRecord, (long)i * IdBits, (uint)ids[i], IdBits);
        for (int i = 0; i < E; i++) BinaryPrimitives.WriteHalfLittleEndian(logprobRecord[(2 * i)..], (Half)logprobs[i]);
        BinaryPrimitives.WriteHalfLittleEndian(logprobRecord[(2 * E)..], (Half)tail);
        if (Quantised == 0) return;

        double anchor = (double)(Half)logprobs[E - 1];
        double largestGap = anchor - logprobs[E];
        for (int i = E + 1; i < K; i++) largestGap = Math.Max(largestGap, (double)logprobs[i - 1] - logprobs[i]);
        // The closed loop can need one step more than the largest gap / s; start from the exponent that fits the gap.
        int e = 0;
        while (e < MaxExponent && Step(e) * MaxCount < largestGap) e++;
        var counts = logprobRecord[(2 * E + 3)..];
        for (; ; e++)
        {
            if (e > MaxExponent)
                throw new ArgumentException($"top-K codec: token {token}: log-prob gaps up to {largestGap} nats do not fit {Options.DeltaBits}-bit steps");
            if (TryCounts(logprobs, anchor, Step(e), counts)) break;
            counts.Clear();
        }
        logprobRecord[2 * E + 2] = (byte)e;
    }

    /// <summary>Reads one token's records into <paramref name="ids"/> and <paramref name="logprobs"/> (K each); returns
    /// the tail log-prob.</summary>
    public float DecodeToken(int token, ReadOnlySpan<byte> idRecord, ReadOnlySpan<byte> logprobRecord, Span<int> ids, Span<float> logprobs)
    {
        if (idRecord.Length != IdBytes || logprobRecord.Length != LogprobBytes || ids.Length != K || logprobs.Length != K)
            throw new ArgumentException($"top-K codec: token {token}: records of {idRecord.Length} and {logprobRecord.Length} bytes into " +
                                        $"{ids.Length} ids and {logprobs.Length} log-probs; expected {IdBytes}, {LogprobBytes}, {K}, {K}");
        for (int i = 0; i < K; i++)
        {
            uint id = BitPacking.Read(idRecord, (long)i * IdBits, IdBits);
            if (id >= (uint)Options.VocabSize)
                throw new InvalidDataException($"top-K codec: token {token}, position {i}: id {id} outside the vocabulary of {Options.VocabSize}");
            ids[i] = (int)id;
        }
        for (int i = 0; i < E; i++) logprobs[i] = ReadHalf(logprobRecord, 2 * i, token, $"position {i}");
        float tail = ReadHalf(logprobRecord, 2 * E, token, "tail");
        if (Quantised == 0) return tail;

        int e = logprobRecord[2 * E + 2];
        if (e > MaxExponent)
            throw new InvalidDataException($"top-K codec: token {token}: step exponent {e} above {MaxExponent}");
        double step = Step(e), value = logprobs[E - 1];
        var counts = logprobRecord[(2 * E + 3)..];
        for (int i = E; i < K; i++)
        {
            value -= BitPacking.Read(counts, (long)(i - E) * Options.DeltaBits, Options.DeltaBits) * step;
            logprobs[i] = (float)value;
        }
        return tail;
    }

    private double Step(int exponent) => Options.BaseStep * Math.Pow(2, exponent);

    /// <summary>The closed-loop step counts of lp_E..lp_{K-1} at <paramref name="step"/>; false when one exceeds Q bits.</summary>
    private bool TryCounts(ReadOnlySpan<float> logprobs, double anchor, double step, Span<byte> counts)
    {
        double value = anchor;
        for (int i = E; i < K; i++)
        {
            double c = Math.Floor((value - logprobs[i]) / step + 0.5);
            if (c > MaxCount) return false;
            c = Math.Max(c, 0); // lp_i above the float16 anchor by less than s/2
            BitPacking.Write(counts, (long)(i - E) * Options.DeltaBits, (uint)c, Options.DeltaBits);
            value -= c * step;
        }
        return true;
    }

    private void Check(int token, ReadOnlySpan<int> ids, ReadOnlySpan<float> logprobs, float tail)
    {
        if (ids.Length != K || logprobs.Length != K)
            throw new ArgumentException($"top-K codec: token {token} has {ids.Length} ids and {logprobs.Length} log-probs, expected K = {K}");
        for (int i = 0; i < K; i++)
        {
            if (ids[i] < 0 || ids[i] >= Options.VocabSize)
                throw new ArgumentException($"top-K codec: token {token}, position {i}: id {ids[i]} outside the vocabulary 0..{Options.VocabSize - 1}");
            for (int j = 0; j < i; j++)
                if (ids[j] == ids[i])
                    throw new ArgumentException($"top-K codec: token {token}, positions {j} and {i}: id {ids[i]} twice");
            float lp = logprobs[i];
            if (!float.IsFinite(lp) || lp > 0 || lp < MinLogprob)
                throw new ArgumentException($"top-K codec: token {token}, position {i}: log-prob {lp} is not in [{MinLogprob}, 0]");
            if (i > 0 && lp > logprobs[i - 1])
                throw new ArgumentException($"top-K codec: token {token}, position {i}: log-prob {lp} above the one before ({logprobs[i - 1]}); " +
                                            "log-probs must be sorted descending");
        }
        if (!float.IsFinite(tail) || tail > 0 || tail < MinLogprob)
            throw new ArgumentException($"top-K codec: token {token}: tail log-prob {tail} is not in [{MinLogprob}, 0]");
    }

    private static float ReadHalf(ReadOnlySpan<byte> record, int offset, int token, string what)
    {
        float v = (float)BinaryPrimitives.ReadHalfLittleEndian(record[offset..]);
        if (float.IsNaN(v)) throw new InvalidDataException($"top-K codec: token {token}, {what}: NaN");
        return v;
    }
}
