namespace Distill.Models.Config;

/// <summary>Decoder LM hyper-parameters, one record for every Llama-family <c>model_type</c> (HF <c>LlamaConfig</c>,
/// <c>Qwen2Config</c>, <c>MistralConfig</c>, <c>MixtralConfig</c>; config.json names in the comments). The kinds differ
/// only by these values: Qwen2 has q/k/v biases, Mixtral has experts on every layer (<see cref="Moe"/>). <see cref="Moe"/>
/// and <see cref="Mod"/> are null for a dense decoder.</summary>
public sealed record DecoderConfig(
    int VocabSize,                 // vocab_size
    int HiddenSize,                // hidden_size
    int IntermediateSize,          // intermediate_size
    int Layers,                    // num_hidden_layers
    int Heads,                     // num_attention_heads
    int KvHeads,                   // num_key_value_heads
    int MaxPositions = 512,        // max_position_embeddings
    double RopeTheta = 10000.0,    // rope_theta
    double RmsNormEps = 1e-6,      // rms_norm_eps
    bool TieWordEmbeddings = false, // tie_word_embeddings
    MoeConfig? Moe = null,
    ModConfig? Mod = null)
{
    /// <summary><c>model_type</c>: llama, qwen2, mistral or mixtral.</summary>
    public string ModelType { get; init; } = "llama";

    /// <summary><c>head_dim</c> when a config gives it (else hidden_size / num_attention_heads).</summary>
    public int? ExplicitHeadDim { get; init; }

    /// <summary><c>rope_scaling</c>, or null for plain RoPE.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Biases on q_proj, k_proj and v_proj (Qwen2; Llama's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>A bias on o_proj (Llama's <c>attention_bias</c>; not Qwen2).</summary>
    public bool OutputBias { get; init; }

    /// <summary><c>hidden_act</c> of the MLP (silu for every supported model).</summary>
    public string HiddenAct { get; init; } = "silu";

    /// <summary>Keys a query may attend to: the last <c>sliding_window</c> positions (Mistral; Qwen2 with
    /// <c>use_sliding_window</c>); null = all earlier positions.</summary>
    public int? SlidingWindow { get; init; }

    public int HeadDim => ExplicitHeadDim ?? HiddenSize / Heads;
}
