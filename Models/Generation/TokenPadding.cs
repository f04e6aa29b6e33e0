using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Batches of token sequences of different lengths.</summary>
public static class TokenPadding
{
    /// <summary>Left-pads sequences with <paramref name="padId"/>: ids [B,L] int64 and attention mask [B,L] int64 (0 on
    /// pads), so every row's last token sits at the same position (where generation continues).</summary>
    public static (Tensor Ids, Tensor Mask) Left(IReadOnlyList<IReadOnlyList<int>> sequences, int padId, Device? device = null)
    {
        var length = sequences.Max(s => s.Count);
        var ids = new long[sequences.Count * length];
        var mask = new long[sequences.Count * length];
        for (var r = 0; r < sequences.Count; r++)
        {
            var offset = length - sequences[r].Count;
            for (var j = 0; j < length; j++)
            {
                var real = j >= offset;
                ids[r * length + j] = real ? sequences[r][j - offset] : padId;
                mask[r * length + j] = real ? 1 : 0;
            }
        }
        return (torch.tensor(ids, [sequences.Count, length], device: device),
                torch.tensor(mask, [sequences.Count, length], device: device));
    }
}
