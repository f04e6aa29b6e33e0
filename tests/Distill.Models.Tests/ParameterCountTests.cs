using Xunit;
using static Distill.Models.Tests.TestModels;

namespace Distill.Models.Tests;

public class ParameterCountTests
{
    // Tiny config: vision Dv=16, I=32, 2 layers, 3x4x4 patches, 4 patches; projector 16->24->24;
    // text V=32, D=24, I=48, 2 layers, 4 heads of 6 over 2 kv heads (kv width 12).
    // CLIP tower: a class token, so N+1 = 5 positions; a pre- and a post-layernorm.
    private const long ClassEmbedding = 16;                             // 16
    private const long PatchEmbedding = 16 * 3 * 4 * 4;                 // 768, no bias
    private const long PositionEmbedding = (4 + 1) * 16;                // 80
    private const long PreLayerNorm = 2 * 16;                           // 32
    private const long VisionLayer = 2 * 16                             // layer_norm1
                                   + 4 * (16 * 16 + 16)                 // q,k,v,out with bias
                                   + 2 * 16                             // layer_norm2
                                   + (16 * 32 + 32) + (32 * 16 + 16);   // fc1, fc2 = 2224
    private const long PostLayerNorm = 2 * 16;                          // 32 (held, never run by LLaVA)
    private const long Vision = ClassEmbedding + PatchEmbedding + PositionEmbedding + PreLayerNorm
                              + 2 * VisionLayer + PostLayerNorm;        // 16 + 768 + 80 + 32 + 4448 + 32 = 5376
    private const long Projector = (16 * 24 + 24) + (24 * 24 + 24);     // 1008
    private const long Embed = 32 * 24;                                 // 768
    private const long TextLayer = 24                                    // input_layernorm
                                 + 24 * 24 + 24 * 12 + 24 * 12 + 24 * 24 // q, k, v, o (no bias)
                                 + 24                                    // post_attention_layernorm
                                 + 3 * 24 * 48;                          // gate, up, down = 5232
    private const long Text = Embed + 2 * TextLayer + 24 + 32 * 24;     // + norm + lm_head = 12024

    [Fact]
    public void UntiedCountMatchesHandCount()
    {
        using var model = Tiny();
        Assert.Equal(18408L, Vision + Projector + Text);                    // 5376 + 1008 + 12024
        Assert.Equal(Vision + Projector + Text, model.ParameterCount());
    }

    [Fact]
    public void TiedCountDropsTheLmHead()
    {
        using var model = Tiny(tie: true);
        Assert.Equal(Vision + Projector + Text - 32 * 24, model.ParameterCount());
    }
}
