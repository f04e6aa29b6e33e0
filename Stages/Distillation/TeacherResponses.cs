using Distill.Models.Generation;
using Distill.Models;
using Distill.Stages.Arrow;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>LLAVADI's data augmentation (<c>distill.mimic.teacher-generated-responses</c>): the teacher answers
/// every prompt itself, greedily, and the sample's response becomes that answer, so the student is distilled (and
/// its CE term trained) on the teacher's own outputs instead of the dataset's. The prompt is the row's
/// <c>input_ids</c> before the first response token (it ends with the assistant marker); the new response is the
/// generated tokens followed by eos when the teacher stopped by itself (none when it hit the token limit);
/// <c>labels_mask</c> is true exactly on it. Image, id, task and the reference <c>answer</c> stay as they were.</summary>
public static class TeacherResponses
{
    /// <param name="maxNewTokens">Longest response generated (tokens, eos not counted).</param>
    public static IReadOnlyList<SampleRow> Generate(VisionLanguageModel teacher, IReadOnlyList<SampleRow> rows,
        ImageFormat imageFormat, int maxNewTokens, int eosId, int padId)
    {
        if (maxNewTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens, "the response limit must be positive");
        if (rows.Count == 0) return rows;
        var prompts = rows.Select(Prompt).ToList();
        IReadOnlyList<int[]> outputs;
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var pixels = ImageTensors.FromRgb(rows.Select(r => r.Image).ToList(), imageFormat);       // [B,3,S,S]
            outputs = teacher.GenerateGreedy(pixels, prompts, maxNewTokens, eosId, padId);
        }
        var result = new List<SampleRow>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            int[] response = outputs[i].Length < maxNewTokens ? [.. outputs[i], eosId] : outputs[i];
            var mask = new bool[prompts[i].Length + response.Length];
            Array.Fill(mask, true, prompts[i].Length, response.Length);
            result.Add(rows[i] with { InputIds = [.. prompts[i], .. response], LabelsMask = mask });
        }
        return result;
    }

    /// <summary>input_ids before the first response token.</summary>
    public static int[] Prompt(SampleRow row)
    {
        int start = Array.IndexOf(row.LabelsMask, true);
        if (start <= 0)
            throw new InvalidDataException($"sample '{row.SampleId}': labels_mask marks {(start < 0 ? "no response token" : "no prompt")}, so there is no prompt for the teacher to answer");
        return row.InputIds[..start];
    }
}
