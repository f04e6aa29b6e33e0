namespace Distill.Stages.Losses;

/// <summary>The preference objective (<c>distill.preference.loss</c>), see <see cref="PreferenceLoss"/>.</summary>
public enum PreferenceLossKind
{
    /// <summary><c>sigmoid</c>: DPO.</summary>
    Sigmoid,
    /// <summary><c>kto-pair</c>: the paired KTO loss that LLaVA-MoD's code runs.</summary>
    KtoPair,
    /// <summary><c>ipo</c>: IPO.</summary>
    Ipo,
}

public static class PreferenceLossKinds
{
    public static readonly IReadOnlyList<string> Names = ["sigmoid", "kto-pair", "ipo"];

    public static PreferenceLossKind Parse(string value) => value switch
    {
        "sigmoid" => PreferenceLossKind.Sigmoid,
        "kto-pair" => PreferenceLossKind.KtoPair,
        "ipo" => PreferenceLossKind.Ipo,
        _ => throw new ArgumentException($"preference loss '{value}' is not allowed; allowed: {string.Join(", ", Names)}"),
    };

    public static string Name(this PreferenceLossKind kind) => kind switch
    {
        PreferenceLossKind.Sigmoid => "sigmoid",
        PreferenceLossKind.KtoPair => "kto-pair",
        PreferenceLossKind.Ipo => "ipo",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
