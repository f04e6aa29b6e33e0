using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Torch;

/// <summary>Hugging Face style initialisation: N(0, 0.02) for Linear / Embedding / Conv weights and learned
/// position tables, zeros for biases, ones for norm scales.</summary>
public static class Init
{
    public const double Std = 0.02;

    public static void HfInit(nn.Module root)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in root.named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    nn.init.normal_(linear.weight!, 0.0, Std);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0.0, Std);
                    break;
                case Conv2d conv:
                    nn.init.normal_(conv.weight!, 0.0, Std);
                    if (conv.bias is not null) nn.init.zeros_(conv.bias);
                    break;
                case LayerNorm norm:
                    if (norm.weight is not null) nn.init.ones_(norm.weight);
                    if (norm.bias is not null) nn.init.zeros_(norm.bias);
                    break;
            }
        }
    }
}
