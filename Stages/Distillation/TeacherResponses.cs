using Distill.Models.Generation;
using Distill.Models;
using Distill.Stages.Arrow;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>LLAVADI's teacher-generated data: the teacher answers a prompt itself, greedily, and the sample's response
/// becomes that answer, so the student is distilled (and its CE term trained) on the teacher's own outputs. It answers
/// the prompt-only rows (no response token: the unlabelled pool) and, with <see cref="ResponseGeneration.EveryRow"/>
/// (<c>distill.mimic.teacher-generated-responses</c>), every row instead of its dataset response. The prompt is the
/// row's <c>input_ids</c> before the first response token (it ends with the assistant marker); the new response is the
/// generated tokens followed by eos when the teacher stopped by itself (none when it hit the token limit);
/// <c>labels_mask</c> is true exactly on it. Image, id, task and the reference <c>answer</c> stay as they were.</summary>
public static class TeacherResponses
{
    /// <param name="maxNewTokens">Longest response generated (tokens, eos not counted).</param>
    public static IReadOnlyList<SampleRow> Generate(VisionLanguageModel teacher, IReadOnlyList<SampleRow> rows,
        ImageFormat imageFormat, ResponseGeneration generation, int padId)
    {
        int maxNewTokens = generation.MaxNewTokens, eosId = generation.EosId;
        if (maxNewTokens <= 0) throw new ArgumentOutOfRangeException(nameof(generation), maxNewTokens, "the response limit must be positive");
        var answered = Enumerable.Range(0, rows.Count).Where(i => generation.EveryRow || rows[i].IsPromptOnly).ToList();
        if (answered.Count == 0) return rows;
        var prompts = answered.Select(i => rows[i].Prompt()).ToList();
        IReadOnlyList<int[]> outputs;
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var pixels = ImageTensors.FromRgb(answered.Select(i => rows[i].Image).ToList(), imageFormat);       // [B,3,S,S]
            outputs = teacher.GenerateGreedy(pixels, prompts, maxNewTokens, eosId, padId);
        }
        var result = rows.ToArray();
        for (int j = 0; j < answered.Count; j++)
        {
            int[] response = outputs[j].Length < maxNewTokens ? [.. outputs[j], eosId] : outputs[j];
            var mask = new bool[prompts[j].Length + response.Length];
            Array.Fill(mask, true, prompts[j].Length, response.Length);
            result[answered[j]] = rows[answered[j]] with { InputIds = [.. prompts[j], .. response], LabelsMask = mask };
        }
        return result;
    }
}
