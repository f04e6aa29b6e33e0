using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Moe;

/// <summary>Sparse Mixture-of-Experts FFN, a drop-in for <see cref="LlamaMlp"/> (LLaVA-MoD, DESIGN 3):
/// router p = softmax(gate(x)) over E experts; each token goes to its top-k experts with gates renormalised to sum 1;
/// y = sum_j g_j * expert_j(x). Each expert takes at most C = ceil(k * cf * N / E) assignments, N = B*T tokens,
/// cf = <see cref="MoeConfig.TrainCapacityFactor"/> in training mode, <see cref="MoeConfig.EvalCapacityFactor"/>
/// in eval mode; beyond C, assignments are dropped in token order (row-major over [B,T]; lower index wins) and
/// contribute 0; a capacity factor of 0 drops nothing (as transformers' Mixtral). Aux load-balancing loss
/// <c>E * sum_e f_e * P_e</c> (f_e: share of tokens whose top-1 is e, P_e: mean router probability of e; all N tokens,
/// padding included) is kept from the last forward. HF <c>MixtralSparseMoeBlock</c>: the layer registers it as
/// <c>block_sparse_moe</c>, with <c>gate.weight</c> [E,D] and <c>experts.E.w1/w2/w3.weight</c>.</summary>
public sealed class MoeMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>The name a decoder layer registers this block under (Mixtral's).</summary>
    public const string ModuleName = "block_sparse_moe";

    private readonly Linear gate;
    private readonly ModuleList<MoeExpert> experts;
    private Tensor? _auxLoss;

    public MoeMlp(long hidden, long intermediate, MoeConfig config, string hiddenAct = "silu", Placement? placement = null) : base(nameof(MoeMlp))
    {
        if (config.Experts < 1) throw new ArgumentException($"MoE needs at least one expert, got {config.Experts}.");
        if (config.TopK < 1 || config.TopK > config.Experts)
            throw new ArgumentException($"MoE top-k {config.TopK} must lie in [1, {config.Experts}].");
        Config = config;
        gate = placement.Linear(hidden, config.Experts, hasBias: false);
        experts = new ModuleList<MoeExpert>(
            Enumerable.Range(0, config.Experts).Select(_ => new MoeExpert(hidden, intermediate, hiddenAct, placement)).ToArray());
        RegisterComponents();
    }

    public MoeConfig Config { get; }

    /// <summary>The router <c>Linear(D, E, bias=false)</c>.</summary>
    public Linear Gate => gate;

    public ModuleList<MoeExpert> Experts => experts;

    /// <summary>Aux load-balancing loss of the last forward (scalar, in the autograd graph when grads were on);
    /// owned by this module and replaced by the next forward. Null before the first forward.</summary>
    public Tensor? LastAuxLoss => _auxLoss;

    /// <summary>Routing statistics of the last forward; null before the first forward.</summary>
    public MoeRouting? LastRouting { get; private set; }

    /// <summary>Capacity factor of the current mode (train / eval).</summary>
    public double CapacityFactor => training ? Config.TrainCapacityFactor : Config.EvalCapacityFactor;

    /// <summary>Expert capacity C = ceil(k * cf * tokens / E) in the current mode.</summary>
    public int Capacity(long tokens) => Capacity(Config.TopK, CapacityFactor, tokens, Config.Experts);

    /// <summary>ceil(k * cf * tokens / E); a value whole up to float rounding is not rounded up
    /// (2 * 1.1 * 25 / 1 = 55.00000000000001 gives 55). A capacity factor of 0: no capacity (every token, at most
    /// <paramref name="tokens"/> assignments per expert).</summary>
    public static int Capacity(int topK, double capacityFactor, long tokens, int experts) =>
        capacityFactor == 0 ? (int)tokens : (int)Math.Ceiling(topK * capacityFactor * tokens / experts - 1e-9);

    /// <summary>x [B,T,D] -> [B,T,D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        int e = Config.Experts, k = Config.TopK;
        var shape = x.shape;
        var flat = x.reshape(-1, shape[^1]);                                             // [N,D]
        long n = flat.shape[0];
        var capacity = Capacity(n);

        // Router: softmax over experts (in float32), top-k, gates renormalised to sum 1.
        var probs = gate.forward(flat).to_type(ScalarType.Float32).softmax(-1);         // [N,E]
        var (topProbs, topExperts) = probs.topk(k, dim: -1);                              // [N,k], [N,k]
        var gates = (topProbs / topProbs.sum(-1, keepdim: true)).to_type(x.dtype);        // [N,k]

        // Capacity: rank of each assignment in its expert's queue, assignments in row-major (token, slot) order.
        var slotExpert = topExperts.reshape(-1);                                          // [N*k]
        var slotGate = gates.reshape(-1);                                                 // [N*k]
        var slotToken = Scalars.Arange(n, x.device).unsqueeze(1).expand(n, k).reshape(-1);   // [N*k]
        var onehot = nn.functional.one_hot(slotExpert, e);                                // [N*k,E] int64
        var rank = (onehot.cumsum(0) * onehot).sum(-1).sub(Scalars.One);                   // [N*k]
        var keep = rank.lt(Scalars.Of(capacity));                                         // [N*k]

        var assigned = onehot.sum(0L).cpu().data<long>().ToArray();                        // [E]
        var kept = (onehot * keep.unsqueeze(1).to_type(ScalarType.Int64)).sum(0L).cpu().data<long>().ToArray(); // [E]

        // Dispatch: per expert, gather its kept tokens, run it, scatter back weighted by the gate.
        var output = torch.zeros_like(flat);                                              // [N,D]
        for (var j = 0; j < e; j++)
        {
            if (kept[j] == 0) continue;
            var slots = slotExpert.eq(Scalars.Of(j)).logical_and(keep).nonzero().squeeze(1);          // [n_j]
            var tokens = slotToken.index_select(0, slots);                                // [n_j]
            var y = experts[j].forward(flat.index_select(0, tokens));                     // [n_j,D]
            output = output.index_add(0, tokens, y * slotGate.index_select(0, slots).unsqueeze(1), Scalars.One);
        }

        // Aux load-balancing loss: E * sum_e f_e * P_e.
        var top1Share = nn.functional.one_hot(topExperts.select(1, 0), e).to_type(ScalarType.Float32).mean([0L]); // [E]
        var meanProb = probs.mean([0L]);                                                  // [E]
        var aux = (top1Share * meanProb).sum() * Scalars.Of(e);                           // []

        _auxLoss?.Dispose();
        _auxLoss = aux.DetachFromDisposeScope();
        LastRouting = new MoeRouting(n, capacity, assigned, kept, assigned.Sum() - kept.Sum());
        return output.reshape(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Sparse upcycling of one dense FFN: E exact copies of <paramref name="dense"/> as experts, router
    /// drawn from N(0, 0.02) with the global torch RNG. Same device, dtype and train/eval mode as the dense FFN.</summary>
    public static MoeMlp Upcycle(LlamaMlp dense, MoeConfig config, string hiddenAct = "silu")
    {
        var weight = dense.GateProj.weight!;                                               // [I,D]
        var moe = new MoeMlp(weight.shape[1], weight.shape[0], config, hiddenAct);
        moe.to(weight.dtype).to(weight.device);
        moe.train(dense.training);
        using var noGrad = torch.no_grad();
        nn.init.normal_(moe.gate.weight!, 0.0, Init.Std);
        foreach (var expert in moe.experts)
        {
            expert.W1.weight!.copy_(dense.GateProj.weight!);
            expert.W3.weight!.copy_(dense.UpProj.weight!);
            expert.W2.weight!.copy_(dense.DownProj.weight!);
        }
        return moe;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _auxLoss?.Dispose();
            _auxLoss = null;
        }
        base.Dispose(disposing);
    }
}
