using Distill.Models.Accounting;
using Distill.Models.Config;
using TorchSharp.Modules;
using Xunit;
using static Distill.Models.Tests.TestModels;

namespace Distill.Models.Tests;

/// <summary>Parameter and FLOP accounting against hand arithmetic on the tiny config of <see cref="TestModels"/>:
/// vision 8x8 images, 4x4 patches (N = 4), a CLIP tower of R = N + 1 = 5 rows (class token), Dv = 16, Iv = 32,
/// 2 layers; the LM gets F = 4 image features (the class token's row dropped); projector 16 -> 24 -> 24;
/// text V = 32, D = 24, I = 48, 4 heads of 6 over 2 kv heads (q width 24, kv width 12).
/// Sequences: F = 4 image tokens + 6 text tokens, T = 10.</summary>
public class AccountingTests
{
    private static VlmConfig WithText(VlmConfig c, Func<DecoderConfig, DecoderConfig> change) => c with { Text = change(c.Text) };

    private static readonly SequenceShape Seq = new(ImageTokens: 4, TextTokens: 6);

    // ---- parameters (same hand count as ParameterCountTests) ----
    // vision 5376 (class embedding 16, patch conv 768, positions 5*16 = 80, pre-LN 32, 2 layers of 2224, post-LN 32),
    // projector 1008, embed 32*24 = 768, one text layer 5232, final norm 24, lm_head 32*24 = 768.
    // One text layer's SwiGLU FFN: 3*24*48 = 3456.
    private const long DenseTotal = 5376 + 1008 + 768 + 2 * 5232 + 24 + 768; // 18408

    [Fact]
    public void Dense_parameters_match_the_hand_count()
    {
        var p = ParameterAccounting.Count(TinyConfig());
        Assert.Equal(16 + 768 + 80 + 32 + 2 * 2224 + 32, p.VisionTower);      // 5376
        Assert.Equal(1008, p.Projector);
        Assert.Equal(768, p.Embedding);
        Assert.All(p.Layers, l => Assert.Equal(5232, l.Total));
        Assert.Equal(768, p.LmHead);
        Assert.Equal(0, p.ModRouter);
        Assert.Equal(18408, DenseTotal);
        Assert.Equal(DenseTotal, p.Total);
        Assert.Equal(DenseTotal, p.Activated);           // dense: every parameter is used by every token
        Assert.Equal(DenseTotal - 768, ParameterAccounting.Total(TinyConfig(tie: true)));
    }

    [Theory]
    [InlineData(false, -1)]
    [InlineData(true, -1)]
    [InlineData(false, -2)] // the unused last vision layer still holds parameters
    public void Total_equals_the_parameter_count_of_a_built_dense_model(bool tie, int featureLayer)
    {
        using var model = Tiny(tie: tie, featureLayer: featureLayer);
        Assert.Equal(model.ParameterCount(), ParameterAccounting.Total(TinyConfig(tie, featureLayer)));
    }

    [Fact]
    public void Moe_parameters_count_all_experts_and_activate_k()
    {
        // 4 text layers, E = 4, k = 2, every-other: layers 0 and 2 are MoE, 1 and 3 dense.
        var config = WithText(TinyConfig(), t => t with { Layers = 4, Moe = new MoeConfig(Experts: 4, TopK: 2) });
        var p = ParameterAccounting.Count(config);
        Assert.Equal([true, false, true, false], p.Layers.Select(l => l.IsMoe));
        // MoE layer: attention + norms as dense (5232 - 3456 = 1776), FFN 4 experts * 3456 + router 24*4 = 13920.
        Assert.Equal(1776 + 4 * 3456 + 96, p.Layers[0].Total);                         // 15696
        // Dense model with 4 layers: 5376 + 1008 + 768 + 4*5232 + 24 + 768 = 28872.
        // Each MoE layer adds 3 more experts and the router: 3*3456 + 96 = 10464; two layers: 20928.
        Assert.Equal(28872 + 2 * 10464, p.Total);                                     // 49800
        // A token uses 2 of the 4 experts: minus 2*3456 per MoE layer -> 49800 - 13824.
        Assert.Equal(49800 - 2 * 2 * 3456, p.Activated);                              // 35976
        Assert.Equal(35976, ParameterAccounting.Activated(config));

        // k = E: everything is activated.
        var all = WithText(config, t => t with { Moe = new MoeConfig(Experts: 4, TopK: 4) });
        Assert.Equal(ParameterAccounting.Total(all), ParameterAccounting.Activated(all));
    }

    [Fact]
    public void Mod_adds_one_shared_router()
    {
        // One router Linear(24, 2, bias=false) = 48 parameters, however many MoD layers there are.
        var one = WithText(TinyConfig(), t => t with { Mod = new ModConfig([1], SkipRatio: 0.5) });
        var both = WithText(TinyConfig(), t => t with { Mod = new ModConfig([0, 1]) });
        Assert.Equal(DenseTotal + 48, ParameterAccounting.Total(one));
        Assert.Equal(DenseTotal + 48, ParameterAccounting.Total(both));
        Assert.Equal(DenseTotal + 48, ParameterAccounting.Activated(one));
        Assert.Equal(DenseTotal, ParameterAccounting.Total(WithText(TinyConfig(), t => t with { Mod = new ModConfig([]) })));
    }

    // ---- FLOPs ----
    // Vision, N = 4 patches, R = 5 rows (class token + patches), Dv = 16, Iv = 32, P = 4:
    //   patch conv over the N patches 2 * 4 * (3*4*4) * 16  = 6144
    //   per layer over R rows: q,k,v,out 4 * 2*5*16*16      = 10240
    //              QK^T + AV 2 * 2*5*5*16                   = 1600
    //              fc1 + fc2 2 * 2*5*16*32                  = 10240  -> 22080
    //   2 layers: 6144 + 2*22080                            = 50304
    // Projector over F = 4 features: 2*4*16*24 + 2*4*24*24 = 3072 + 4608 = 7680
    // Dense decoder layer, T = 10, D = 24, q 24, kv 12, I = 48:
    //   q 2*10*24*24 = 11520, k 2*10*24*12 = 5760, v 5760, o 11520    -> 34560
    //   causal pairs 10*11/2 = 55, each 2*24 (QK) + 2*24 (AV) = 96     -> 5280
    //   gate, up, down 3 * 2*10*24*48                                  -> 69120
    //   layer                                                          = 108960
    // LM head 2*10*24*32 = 15360.
    private const long Vision = 50304, Projector = 7680, DenseLayer = 108960, Head = 15360;

    [Fact]
    public void Dense_flops_match_the_hand_count()
    {
        var f = FlopAccounting.Forward(TinyConfig(), Seq);
        Assert.Equal(Vision, f.VisionTower);
        Assert.Equal(Projector, f.Projector);
        Assert.All(f.Layers, l =>
        {
            Assert.Equal(10, l.ProcessedTokens);
            Assert.Equal(34560, l.Projections);
            Assert.Equal(5280, l.Attention);
            Assert.Equal(69120, l.Ffn);
            Assert.Equal(0, l.Router);
            Assert.Equal(DenseLayer, l.Total);
        });
        Assert.Equal(Head, f.LmHead);
        Assert.Equal(2 * DenseLayer, f.DecoderLayers);                 // 217920
        Assert.Equal(2 * DenseLayer + Head, f.Decoder);                // 233280
        Assert.Equal(291264, f.Total);                                 // 50304 + 7680 + 233280
        Assert.Equal(29126.4, f.PerToken);                             // / 10 tokens
        Assert.Equal(23328.0, f.DecoderPerToken);
    }

    [Fact]
    public void Moe_flops_use_k_experts_and_the_router()
    {
        var config = WithText(TinyConfig(), t => t with { Layers = 4, Moe = new MoeConfig(Experts: 4, TopK: 2) });
        var f = FlopAccounting.Forward(config, Seq);
        // MoE layer: projections 34560 + attention 5280 + 2 experts * 69120 + router 2*10*24*4 = 1920 -> 180000.
        Assert.Equal(1920, f.Layers[0].Router);
        Assert.Equal(2 * 69120, f.Layers[0].Ffn);
        Assert.Equal(180000, f.Layers[0].Total);
        Assert.Equal(DenseLayer, f.Layers[1].Total);
        Assert.Equal(180000, f.Layers[2].Total);
        Assert.Equal(DenseLayer, f.Layers[3].Total);
        Assert.Equal(2 * 180000 + 2 * DenseLayer, f.DecoderLayers);    // 577920
        Assert.Equal(Vision + Projector + 577920 + Head, f.Total);     // 651264
    }

    [Fact]
    public void Mod_layer_processes_the_kept_image_tokens_and_all_text_tokens()
    {
        var config = WithText(TinyConfig(), t => t with { Mod = new ModConfig([1], SkipRatio: 0.5) });
        var f = FlopAccounting.Forward(config, Seq);
        Assert.Equal(DenseLayer, f.Layers[0].Total);
        var mod = f.Layers[1];
        // Skip 0.5 of F = 4 image tokens: 2 kept + 6 text = 8 processed.
        Assert.Equal(8, mod.ProcessedTokens);
        Assert.Equal(2 * 8 * 24 * 24 * 2 + 2 * (2 * 8 * 24 * 12), mod.Projections); // 18432 + 9216 = 27648
        Assert.Equal(8 * 9 / 2 * 96, mod.Attention);                                  // 36 pairs * 96 = 3456
        Assert.Equal(3 * 2 * 8 * 24 * 48, mod.Ffn);                                   // 55296
        Assert.Equal(2 * 10 * 24 * 2, mod.Router);                                    // router on all 10 tokens: 960
        Assert.Equal(87360, mod.Total);
        Assert.Equal(DenseLayer + 87360, f.DecoderLayers);                            // 196320
        Assert.Equal(196320 + Head, f.Decoder);                                        // 211680
        Assert.Equal(Vision + Projector + 211680, f.Total);                           // 269664
        // Vision and projector are untouched by MoD.
        Assert.Equal(Vision, f.VisionTower);
    }

    [Theory]
    [InlineData(1.0, 4)]
    [InlineData(0.5, 2)]
    [InlineData(0.3, 2)]  // ceil(1.2)
    [InlineData(0.25, 1)]
    [InlineData(0.0, 0)]
    public void Mod_keep_fraction_rounds_up(double keep, int keptImageTokens)
    {
        var config = WithText(TinyConfig(), t => t with { Mod = new ModConfig([0]) });
        var f = FlopAccounting.Forward(config, Seq with { ModKeepFraction = keep });
        Assert.Equal(keptImageTokens + 6, f.Layers[0].ProcessedTokens);
        Assert.Throws<ArgumentException>(() => FlopAccounting.Forward(config, Seq with { ModKeepFraction = 1.5 }));
    }

    [Fact]
    public void Text_only_sequence_has_no_vision_work_and_selected_layer_limits_the_tower()
    {
        var f = FlopAccounting.Forward(TinyConfig(), new SequenceShape(0, 10));
        Assert.Equal(0, f.VisionTower);
        Assert.Equal(0, f.Projector);
        Assert.Equal(DenseLayer, f.Layers[0].Total);   // still T = 10
        // vision_feature_layer -2 of 2: only the first encoder layer runs: 6144 + 22080.
        Assert.Equal(6144 + 22080, FlopAccounting.Forward(TinyConfig(featureLayer: -2), Seq).VisionTower);
    }

    [Fact]
    public void Matmul_flops_agree_with_the_linear_layers_of_a_built_model()
    {
        // Cross-check against the real modules: every Linear (and the patch conv) of a built dense model, with the
        // tokens it sees, plus attention, must add up to the accounting total. The tower's linears see its
        // R = N + 1 rows (class token and patches), the patch conv the N patches, the projector the F features.
        foreach (var featureLayer in new[] { -1, -2 })
        {
            var config = TinyConfig(featureLayer: featureLayer);
            using var model = Tiny(featureLayer: featureLayer);
            long f = Seq.ImageTokens, t = Seq.Tokens, used = model.Config.VisionLayersUsed;
            long patches = config.Vision.NumPatches, rows = patches + 1;
            Assert.Equal(4, patches);
            Assert.Equal(f, model.Config.ImageFeatures);
            long sum = 0;
            foreach (var (name, module) in model.named_modules())
            {
                long tokens = name.StartsWith("language_model.", StringComparison.Ordinal) ? t
                    : name.StartsWith("vision_tower.", StringComparison.Ordinal) ? rows
                    : f;
                if (name.Contains(".encoder.layers.", StringComparison.Ordinal)
                    && int.Parse(name.Split(".encoder.layers.")[1].Split('.')[0]) >= used)
                    continue; // a vision layer after the selected one never runs
                if (module is Linear linear)
                    sum += 2 * tokens * linear.weight!.shape[0] * linear.weight!.shape[1];
                else if (module is Conv2d conv)
                    sum += 2 * patches * conv.weight!.numel();  // one output pixel per patch: 3*P*P*Dv terms each
            }
            sum += used * 4 * 16 * rows * rows;                // vision attention, bidirectional: QK^T + AV
            sum += 2 * 2 * 24 * t * (t + 1);                   // decoder attention, causal, 2 layers
            Assert.Equal(sum, FlopAccounting.Forward(config, Seq).Total);
        }
    }

    [Fact]
    public void Breakdown_prints_a_row_per_part_and_layer()
    {
        var config = WithText(TinyConfig(), t => t with { Moe = new MoeConfig(), Mod = new ModConfig([1]) });
        var table = FlopAccounting.Forward(config, Seq).ToMarkdown();
        Assert.Contains("| vision tower | 4 | 50.30 K |", table);
        Assert.Contains("| decoder layer 0 (MoE) | 10 |", table);
        Assert.Contains("| decoder layer 1 (dense+MoD) | 8 |", table);
        Assert.Contains("| LM head | 10 | 15.36 K |", table);
        Assert.Equal("999", FlopBreakdown.Human(999));
        Assert.Equal("1.50 G", FlopBreakdown.Human(1_500_000_000));
    }

    [Fact]
    public void Image_sequence_helper_uses_the_config_image_feature_count()
    {
        var s = SequenceShape.ForImage(TinyConfig(), textTokens: 6);
        Assert.Equal(Seq, s);
        // The "full" strategy keeps the class token's row: 5 image features.
        Assert.Equal(5, SequenceShape.ForImage(TinyConfig() with { VisionFeatureSelectStrategy = "full" }, textTokens: 6).ImageTokens);
    }
}
