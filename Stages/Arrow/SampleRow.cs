namespace Distill.Stages.Arrow;

/// <summary>One row of <c>samples/v1</c>. A row whose <see cref="LabelsMask"/> is all false is a prompt only (an
/// unlabelled sample), for the teacher to answer.</summary>
public sealed record SampleRow(string SampleId, byte[] Image, int[] InputIds, bool[] LabelsMask, string Task, string? Answer)
{
    /// <summary>No response token: a prompt for the teacher to answer.</summary>
    public bool IsPromptOnly => Array.IndexOf(LabelsMask, true) < 0;

    /// <summary>input_ids before the first response token (all of them for a prompt-only row); it ends with the
    /// assistant's header.</summary>
    public int[] Prompt()
    {
        int start = Array.IndexOf(LabelsMask, true);
        if (start == 0 || InputIds.Length == 0)
            throw new InvalidDataException($"sample '{SampleId}': labels_mask marks no prompt, so there is nothing to answer");
        return start < 0 ? InputIds : InputIds[..start];
    }

    /// <summary>This row's prompt with no response and no reference answer.</summary>
    public SampleRow PromptOnly()
    {
        if (Array.IndexOf(LabelsMask, true) < 0) throw new InvalidDataException($"sample '{SampleId}': labels_mask marks no response, so it is a prompt already");
        var prompt = Prompt();
        return this with { InputIds = prompt, LabelsMask = new bool[prompt.Length], Answer = null };
    }
}
