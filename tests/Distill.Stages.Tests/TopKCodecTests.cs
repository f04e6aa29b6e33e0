using Apache.Arrow.Types;
using Distill.Stages.Arrow;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary><see cref="TopKCodec"/>, <see cref="CompactTopKPart"/> and <see cref="TopKListPart"/>: exact id round trips,
/// hand-computed records, the stated log-prob error bounds, compressed parts, and errors naming the position.</summary>
public class TopKCodecTests
{
    private const int Qwen2Vocab = 151_646;

    private static TopKCodec Codec(int vocab, int k, int exact = 4, int bits = 4, double step = 1.0 / 64) =>
        new(new TopKCodecOptions(vocab, k, exact, bits, step));

    [Theory]
    [InlineData(1 << 17, 17)]       // the largest vocabulary 17 bits hold: ids 0..131071
    [InlineData((1 << 17) + 1, 18)]
    [InlineData(Qwen2Vocab, 18)]    // log2(151,646) = 17.2: a Qwen2 id needs 18 bits, not 17
    public void Ids_take_the_fewest_bits_of_the_vocabulary_and_round_trip_exactly_including_0_and_vocab_minus_1(int vocab, int bits)
    {
        var codec = Codec(vocab, 64);
        Assert.Equal(bits, codec.IdBits);
        Assert.Equal(64 * bits / 8, codec.IdBytes);
        var rng = new Random(7);
        var ids = new int[3 * 64];
        for (int t = 0; t < 3; t++)
        {
            var chosen = new HashSet<int> { 0, vocab - 1, 1 << 16, (1 << 17) - 1, 1 };
            while (chosen.Count < 64) chosen.Add(rng.Next(vocab));
            chosen.OrderBy(_ => rng.Next()).ToArray().CopyTo(ids, t * 64);
        }
        var logprobs = Enumerable.Range(0, 3 * 64).Select(i => -0.1f * (i % 64) - 1f).ToArray();
        var decoded = codec.Decode(codec.Encode(new TopKTokens(64, ids, logprobs, [-3f, -3f, -3f])));
        Assert.Equal(ids, decoded.Ids);
    }

    [Fact]
    public void Ids_are_packed_least_significant_bit_first()
    {
        // 18-bit fields: id 1 in bits 0..17 (byte 0 = 0x01); id 2^16 in bits 18..35, its one set bit is stream bit
        // 18 + 16 = 34 = bit 2 of byte 4. ceil(36 / 8) = 5 bytes.
        var codec = Codec(Qwen2Vocab, 2, exact: 2);
        var compact = codec.Encode(new TopKTokens(2, [1, 1 << 16], [-1f, -2f], [-1f]));
        Assert.Equal(new byte[] { 0x01, 0x00, 0x00, 0x00, 0x04 }, compact.Ids);
        // vocab - 1 = 151645 = 0x2505D in the first field: bytes 0x5D, 0x50, 0x02; then id 3 from bit 18 = byte 2 bits 2, 3.
        Assert.Equal(new byte[] { 0x5D, 0x50, 0x0E, 0x00, 0x00 }, codec.Encode(new TopKTokens(2, [Qwen2Vocab - 1, 3], [-1f, -2f], [-1f])).Ids);
        // 17-bit fields (vocabulary 2^17): id 2^16 second sits at bit 17 + 16 = 33 = bit 1 of byte 4.
        Assert.Equal(new byte[] { 0x01, 0x00, 0x00, 0x00, 0x02 },
            Codec(1 << 17, 2, exact: 2).Encode(new TopKTokens(2, [1, 1 << 16], [-1f, -2f], [-1f])).Ids);
    }

    [Fact]
    public void A_hand_computed_record_decodes_exactly_when_the_gaps_are_multiples_of_the_step()
    {
        // K = 4, E = 1, Q = 4, base step 1/64. Gaps 0.25, 0.25, 1.0: 15 steps must cover 1.0, so e = 3 (s = 1/8) and
        // the counts are 2, 2, 8. Record: float16 -0.5 (0xB800), float16 tail -0.25 (0xB400), e, counts 0x22 0x08.
        var codec = Codec(16, 4, exact: 1);
        Assert.Equal(7, codec.LogprobBytes);
        var compact = codec.Encode(new TopKTokens(4, [3, 1, 0, 2], [-0.5f, -0.75f, -1f, -2f], [-0.25f]));
        Assert.Equal(new byte[] { 0x00, 0xB8, 0x00, 0xB4, 3, 0x22, 0x08 }, compact.Logprobs);
        Assert.Equal(0.125, codec.StepOf(compact.Logprobs));
        var decoded = codec.Decode(compact);
        Assert.Equal(new[] { -0.5f, -0.75f, -1f, -2f }, decoded.Logprobs);
        Assert.Equal(-0.25f, decoded.Tails[0]);
    }

    [Fact]
    public void Quantised_log_probs_are_within_half_a_step_of_the_true_ones_without_adding_up()
    {
        // Gaps 0.3, 0.3, 0.2: e = 1, s = 1/32 (15/32 >= 0.3). Closed loop: counts 10, 9, 7 (9.6, 9.2, 6.6 rounded) give
        // -0.8125, -1.09375, -1.3125: errors 0.0125, 0.00625, 0.0125 <= s/2 = 0.015625 (an open loop, rounding each gap
        // alone, would give -0.8125, -1.125 and drift).
        var codec = Codec(16, 4, exact: 1);
        var compact = codec.Encode(new TopKTokens(4, [0, 1, 2, 3], [-0.5f, -0.8f, -1.1f, -1.3f], [-2f]));
        Assert.Equal(1.0 / 32, codec.StepOf(compact.Logprobs));
        Assert.Equal(new[] { -0.5f, -0.8125f, -1.09375f, -1.3125f }, codec.Decode(compact).Logprobs);
    }

    [Theory]
    [InlineData(64, 4, 4)]
    [InlineData(64, 8, 3)]
    [InlineData(16, 2, 8)]
    [InlineData(128, 4, 2)]
    public void Random_distributions_keep_order_bounds_and_mass(int k, int exact, int bits)
    {
        var codec = Codec(Qwen2Vocab, k, exact, bits);
        var tokens = RandomTokens(new Random(k * 31 + bits), 200, k, Qwen2Vocab);
        var compact = codec.Encode(tokens);
        var decoded = codec.Decode(compact);
        Assert.Equal(tokens.Ids, decoded.Ids);
        for (int t = 0; t < tokens.Count; t++)
        {
            double step = codec.StepOf(compact.Logprobs.AsSpan(t * codec.LogprobBytes, codec.LogprobBytes));
            double worst = 0, mass = 0;
            for (int i = 0; i < k; i++)
            {
                float truth = tokens.Logprobs[t * k + i], got = decoded.Logprobs[t * k + i];
                double bound = i < exact ? HalfBound(truth) : step / 2 + 1e-6;
                Assert.True(Math.Abs(got - truth) <= bound, $"token {t}, position {i}: {got} vs {truth}, bound {bound}");
                if (i > 0) Assert.True(got <= decoded.Logprobs[t * k + i - 1], $"token {t}, position {i}: order lost");
                worst = Math.Max(worst, Math.Abs(got - truth));
                mass += Math.Exp(got);
            }
            float tail = decoded.Tails[t];
            Assert.True(Math.Abs(tail - tokens.Tails[t]) <= HalfBound(tokens.Tails[t]), $"token {t}: tail {tail} vs {tokens.Tails[t]}");
            worst = Math.Max(worst, Math.Abs(tail - tokens.Tails[t]));
            mass += Math.Exp(tail);
            Assert.True(Math.Abs(mass - 1) <= Math.Exp(worst) - 1 + 1e-5, $"token {t}: mass {mass}, largest error {worst}");
        }
    }

    [Fact]
    public void With_every_log_prob_exact_the_record_is_float16_only()
    {
        var codec = Codec(1000, 8, exact: 8);
        Assert.Equal(2 * 8 + 2, codec.LogprobBytes);
        var tokens = RandomTokens(new Random(3), 5, 8, 1000);
        var decoded = codec.Decode(codec.Encode(tokens));
        Assert.Equal(tokens.Logprobs.Select(v => (float)(Half)v), decoded.Logprobs);
        Assert.Equal(tokens.Tails.Select(v => (float)(Half)v), decoded.Tails);
    }

    [Fact]
    public void A_very_large_gap_widens_that_tokens_step_only()
    {
        // A certain teacher: the 2nd log-prob sits at the floor, 79 nats below: s must reach 79 / 15 -> 2^9 / 64 = 8.
        var codec = Codec(100, 4, exact: 1);
        var tokens = new TopKTokens(4, [0, 1, 2, 3, 4, 5, 6, 7], [-1e-4f, -80f, -80f, -80f, -1f, -1.5f, -2f, -2.5f], [-80f, -3f]);
        var compact = codec.Encode(tokens);
        Assert.Equal(8.0, codec.StepOf(compact.Logprobs.AsSpan(0, codec.LogprobBytes)));
        Assert.Equal(1.0 / 16, codec.StepOf(compact.Logprobs.AsSpan(codec.LogprobBytes, codec.LogprobBytes))); // 15/32 < 0.5 <= 15/16
        var decoded = codec.Decode(compact);
        Assert.InRange(decoded.Logprobs[1], -84f, -76f);
        Assert.Equal(new[] { -1f, -1.5f, -2f, -2.5f }, decoded.Logprobs[4..]);
    }

    [Theory]
    [InlineData(IpcCompression.None)]
    [InlineData(IpcCompression.Zstd)]
    [InlineData(IpcCompression.Lz4)]
    public void A_compact_part_is_written_and_read_back(IpcCompression compression)
    {
        var codec = Codec(Qwen2Vocab, 32, 4, 4);
        var tokens = RandomTokens(new Random(11), 300, 32, Qwen2Vocab);
        var ipc = CompactTopKPart.Write(codec, tokens, compression);
        var (read, compact) = CompactTopKPart.Read(ipc);
        Assert.Equal(codec.Options, read.Options);
        var expected = codec.Encode(tokens);
        Assert.Equal(expected.Ids, compact.Ids);
        Assert.Equal(expected.Logprobs, compact.Logprobs);
        Assert.Equal(codec.Decode(expected).Logprobs, CompactTopKPart.ReadTokens(ipc).Logprobs);

        // Other readers see two plain fixed-size binary columns and the codec's parameters.
        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new ReadOnlyMemory<byte>(ipc), new Apache.Arrow.Compression.CompressionCodecFactory());
        var schema = reader.Schema;
        Assert.Equal(ArrowTypeId.FixedSizedBinary, schema.GetFieldByName(CompactTopKPart.TopkIds).DataType.TypeId);
        Assert.Equal(codec.IdBytes, ((FixedSizeBinaryType)schema.GetFieldByName(CompactTopKPart.TopkIds).DataType).ByteWidth);
        Assert.Equal("18", schema.Metadata[CompactTopKPart.IdBitsKey]);
    }

    [Fact]
    public void Zstd_shrinks_a_repetitive_part_and_the_plain_reader_needs_the_codec()
    {
        // 300 copies of one token: the compressed body is a small fraction of the records.
        var codec = Codec(Qwen2Vocab, 16);
        var one = RandomTokens(new Random(5), 1, 16, Qwen2Vocab);
        var tokens = new TopKTokens(16, Enumerable.Repeat(one.Ids, 300).SelectMany(a => a).ToArray(),
            Enumerable.Repeat(one.Logprobs, 300).SelectMany(a => a).ToArray(), Enumerable.Repeat(one.Tails[0], 300).ToArray());
        var plain = CompactTopKPart.Write(codec, tokens, IpcCompression.None);
        var zstd = CompactTopKPart.Write(codec, tokens, IpcCompression.Zstd);
        Assert.True(plain.Length > 300 * codec.BytesPerToken, $"{plain.Length} bytes");
        Assert.True(zstd.Length < plain.Length / 10, $"zstd {zstd.Length} bytes vs {plain.Length}");
        Assert.Equal(codec.Encode(tokens).Ids, CompactTopKPart.Read(zstd).Compact.Ids);
        // A reader without a codec factory cannot read the body: the compression is Arrow's, not a private framing.
        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new ReadOnlyMemory<byte>(zstd));
        Assert.ThrowsAny<Exception>(() => reader.ReadNextRecordBatch());
    }

    [Fact]
    public void The_teacher_v1_list_columns_round_trip_through_float16_and_zstd()
    {
        var tokens = RandomTokens(new Random(2), 70, 16, Qwen2Vocab);
        var back = TopKListPart.Read(TopKListPart.Write(tokens, positionsPerRow: 32, IpcCompression.Zstd));
        Assert.Equal(tokens.Ids, back.Ids);
        Assert.Equal(tokens.Logprobs.Select(v => (float)(Half)v), back.Logprobs);
        Assert.Equal(tokens.Tails, back.Tails);
    }

    [Fact]
    public void Encoding_errors_name_the_token_and_the_position()
    {
        var codec = Codec(Qwen2Vocab, 4, exact: 2);
        float[] sorted = [-0.5f, -1f, -2f, -3f];
        void Fails(int[] ids, float[] logprobs, float tail, params string[] words)
        {
            var e = Assert.Throws<ArgumentException>(() => codec.Encode(new TopKTokens(4, [0, 1, 2, 3, .. ids], [.. sorted, .. logprobs], [-1f, tail])));
            foreach (var w in words) Assert.Contains(w, e.Message);
        }
        Fails([5, 6, Qwen2Vocab, 7], sorted, -1f, "token 1, position 2", "151646", "outside");
        Fails([5, -1, 6, 7], sorted, -1f, "token 1, position 1", "-1");
        Fails([5, 6, 5, 7], sorted, -1f, "token 1, positions 0 and 2", "twice");
        Fails([5, 6, 7, 8], [-0.5f, -2f, -1f, -3f], -1f, "token 1, position 2", "sorted descending");
        Fails([5, 6, 7, 8], [-0.5f, float.NaN, -2f, -3f], -1f, "token 1, position 1", "NaN");
        Fails([5, 6, 7, 8], [0.5f, -1f, -2f, -3f], -1f, "token 1, position 0", "0.5");
        Fails([5, 6, 7, 8], sorted, float.NaN, "token 1", "tail");
        var lengths = Assert.Throws<ArgumentException>(() => codec.Encode(new TopKTokens(4, [0, 1, 2], sorted, [-1f])));
        Assert.Contains("3 ids", lengths.Message);
        Assert.Contains("1*4 = 4", lengths.Message);
        Assert.Throws<ArgumentException>(() => codec.Encode(new TopKTokens(8, new int[8], new float[8], [-1f])));
    }

    [Fact]
    public void Bad_options_and_corrupt_records_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 8, exact: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 8, exact: 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 8, bits: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 8, bits: 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => Codec(100, 8, step: 0));

        // Vocabulary 5 takes 3 bits; the all-ones field (7) is outside it.
        var codec = Codec(5, 2, exact: 1);
        var compact = codec.Encode(new TopKTokens(2, [4, 0, 1, 2], [-1f, -2f, -1f, -2f], [-1f, -1f]));
        var badId = compact with { Ids = [.. compact.Ids] };
        badId.Ids[1] = 0xFF;
        var e = Assert.Throws<InvalidDataException>(() => codec.Decode(badId));
        Assert.Contains("token 1, position 0: id 7", e.Message);
        var badExponent = compact with { Logprobs = [.. compact.Logprobs] };
        badExponent.Logprobs[4] = 200;
        Assert.Contains("token 0: step exponent 200", Assert.Throws<InvalidDataException>(() => codec.Decode(badExponent)).Message);
        Assert.Throws<InvalidDataException>(() => codec.Decode(compact with { Tokens = 3 }));
    }

    [Fact]
    public void A_part_whose_metadata_disagrees_with_its_columns_is_rejected()
    {
        var codec = Codec(1000, 8);
        var tokens = RandomTokens(new Random(1), 4, 8, 1000);
        var other = Codec(1000, 9); // one more entry: wider records than the columns of an 8-entry part
        var ipc = CompactTopKPart.Write(codec, tokens, IpcCompression.Zstd);
        Assert.Equal(8, CompactTopKPart.Read(ipc).Codec.Options.TopK);
        var e = Assert.Throws<ArgumentException>(() => CompactTopKPart.Write(other, codec.Encode(tokens), IpcCompression.None));
        Assert.Contains("do not make", e.Message);
        Assert.Throws<InvalidDataException>(() => CompactTopKPart.Read(TopKListPart.Write(tokens, 4, IpcCompression.None)));
    }

    /// <summary>Softmax of Gaussian logits (std 3) over a random vocabulary subset: the top K sorted, the true tail.</summary>
    private static TopKTokens RandomTokens(Random rng, int count, int k, int vocab)
    {
        var ids = new int[count * k];
        var logprobs = new float[count * k];
        var tails = new float[count];
        const int support = 512;
        for (int t = 0; t < count; t++)
        {
            var logits = Enumerable.Range(0, support).Select(_ => 3 * Gaussian(rng)).ToArray();
            double max = logits.Max(), log = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
            var order = Enumerable.Range(0, support).OrderByDescending(i => logits[i]).ToArray();
            var chosen = new HashSet<int>();
            while (chosen.Count < support) chosen.Add(rng.Next(vocab));
            var tokenIds = chosen.ToArray();
            double top = 0;
            for (int i = 0; i < k; i++)
            {
                ids[t * k + i] = tokenIds[order[i]];
                logprobs[t * k + i] = (float)(logits[order[i]] - log);
                top += Math.Exp(logits[order[i]] - log);
            }
            double rest = order.Skip(k).Sum(i => Math.Exp(logits[i] - log));
            tails[t] = (float)Math.Log(Math.Max(rest, 1e-30));
            Assert.True(Math.Abs(top + rest - 1) < 1e-9);
        }
        return new TopKTokens(k, ids, logprobs, tails);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>float16 round to nearest: half a unit in the last place, 2^-11 relative, or 2^-25 below the normals.</summary>
    private static double HalfBound(float v) => Math.Max(Math.Abs(v) * Math.Pow(2, -11), Math.Pow(2, -25));
}
