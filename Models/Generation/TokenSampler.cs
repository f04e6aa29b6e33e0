using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Chooses the next token of every row from its logits: argmax (temperature 0) or a seeded draw from the
/// temperature-scaled, top-p-truncated distribution. Draws run on the CPU with the sampler's own generator, so a
/// seed gives the same tokens on any device. Owns that generator: dispose it.</summary>
public sealed class TokenSampler : IDisposable
{
    private readonly GenerationOptions _options;
    private readonly torch.Generator? _generator;

    public TokenSampler(GenerationOptions options)
    {
        options.Validate();
        _options = options;
        if (!options.IsGreedy)
            _generator = new torch.Generator(unchecked((ulong)options.Seed), torch.CPU);
    }

    /// <summary>logits [A,V] -> chosen token ids [A] and, when <see cref="GenerationOptions.ReturnLogProbs"/>, their
    /// log-probabilities under log_softmax(logits) (else null).</summary>
    public (long[] Tokens, float[]? LogProbs) Choose(Tensor logits)
    {
        using var scope = torch.NewDisposeScope();
        var scores = logits.to_type(ScalarType.Float32);                                   // [A,V]
        var chosen = _options.IsGreedy ? scores.argmax(-1).cpu() : Sample(scores);        // [A] int64, CPU
        float[]? logProbs = null;
        if (_options.ReturnLogProbs)
        {
            var index = chosen.to(scores.device).unsqueeze(1);                              // [A,1]
            logProbs = scores.log_softmax(-1).gather(1, index).squeeze(1).cpu().data<float>().ToArray();
        }
        return (chosen.data<long>().ToArray(), logProbs);
    }

    /// <summary>scores [A,V] float32 -> sampled ids [A] int64 on the CPU.</summary>
    private Tensor Sample(Tensor scores)
    {
        var probs = (scores / Scalars.Of(_options.Temperature)).softmax(-1).cpu();                   // [A,V]
        if (_options.TopP >= 1.0)
            return probs.multinomial(1, generator: _generator).squeeze(1);               // [A]
        var (sorted, order) = probs.sort(-1, descending: true);                           // [A,V] each
        var before = sorted.cumsum(-1) - sorted;                                          // mass of more likely tokens
        var nucleus = sorted.masked_fill(before.ge(Scalars.Of(_options.TopP)), Scalars.Zero); // the top token always stays
        var pick = nucleus.multinomial(1, generator: _generator);                         // [A,1] index into sorted
        return order.gather(1, pick).squeeze(1);                                          // [A]
    }

    public void Dispose() => _generator?.Dispose();
}
