namespace Distill.Stages.Losses;

/// <summary>The distillation divergence of <c>distill.mimic.loss</c>.</summary>
public enum Divergence
{
    /// <summary>KL(p_T || p_S), mean-seeking (LLaVA-MoD's default).</summary>
    ForwardKl,
    /// <summary>KL(p_S || p_T), mode-seeking.</summary>
    ReverseKl,
    /// <summary>Generalised Jensen-Shannon JSD(beta).</summary>
    Jsd,
}

public static class Divergences
{
    public static readonly IReadOnlyList<string> Names = ["forward-kl", "reverse-kl", "jsd"];

    public static Divergence Parse(string value) => value switch
    {
        "forward-kl" => Divergence.ForwardKl,
        "reverse-kl" => Divergence.ReverseKl,
        "jsd" => Divergence.Jsd,
        _ => throw new ArgumentException($"distillation loss '{value}' is not allowed; allowed: {string.Join(", ", Names)}"),
    };

    public static string Name(this Divergence divergence) => divergence switch
    {
        Divergence.ForwardKl => "forward-kl",
        Divergence.ReverseKl => "reverse-kl",
        Divergence.Jsd => "jsd",
        _ => throw new ArgumentOutOfRangeException(nameof(divergence), divergence, null),
    };
}
