namespace Distill.Models.Checkpoints;

/// <summary>A model directory: <c>model.safetensors</c> + HF-style <c>config.json</c>.</summary>
public static class Checkpoint
{
    public static void Save(VisionLanguageModel model, string directory) => throw new NotImplementedException();
    public static VisionLanguageModel Load(string directory) => throw new NotImplementedException();
}
