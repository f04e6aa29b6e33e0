using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distill.Stages.Mod;

/// <summary>One decoder layer in a <see cref="ModPlan"/>: its ARank, whether the keep-first/keep-last rule allows it,
/// and whether it was chosen.</summary>
public sealed record ModPlanLayer(
    [property: JsonPropertyName("layer")] int Layer,
    [property: JsonPropertyName("arank")] double ARank,
    [property: JsonPropertyName("eligible")] bool Eligible,
    [property: JsonPropertyName("converted")] bool Converted);

/// <summary>Which layers gamma-MoD converts, and why (DESIGN 5.4 step 2): every layer's ARank, the rule's settings,
/// how many layers the target fraction asked for (<see cref="Wanted"/>) and the chosen ones (<see cref="Converted"/>,
/// ascending; fewer than wanted when fewer layers are eligible).</summary>
public sealed record ModPlan(
    [property: JsonPropertyName("layers")] IReadOnlyList<ModPlanLayer> Layers,
    [property: JsonPropertyName("keep_first")] int KeepFirst,
    [property: JsonPropertyName("keep_last")] int KeepLast,
    [property: JsonPropertyName("target_fraction")] double TargetFraction,
    [property: JsonPropertyName("wanted")] int Wanted,
    [property: JsonPropertyName("converted")] IReadOnlyList<int> Converted)
{
    public const string FileName = "plan.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Calibration samples the ARank values are averaged over (set by the stage).</summary>
    [JsonPropertyName("calibration_samples")]
    public int CalibrationSamples { get; init; }

    /// <summary>The checkpoint that was converted (set by the stage).</summary>
    [JsonPropertyName("input_checkpoint")]
    public string? InputCheckpoint { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModPlan FromJson(string json, string source) =>
        JsonSerializer.Deserialize<ModPlan>(json, Json) ?? throw new InvalidDataException($"{source}: empty MoD plan");
}
