using System.Globalization;
using System.Text;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Stages.Evaluation;

/// <summary>Export of the final student (DESIGN 5.5): the files of its model directory (<c>model.safetensors</c>,
/// <c>config.json</c>, <c>generation_config.json</c>, the tokenizer's and the image processor's) copied into one
/// directory, with a README.txt that says what it is and how to load it (transformers' LLaVA classes, or
/// <see cref="Checkpoint.Load"/>). The directory is assembled under a temporary
/// name and then put in place, so it is either the previous export or the whole new one. Both folders are replaced
/// only when they are Distill's (<see cref="Workspace.OwnedFolder.Export"/>: empty, or with a README.txt of Distill's,
/// which is the first file written into them); anything else is refused.</summary>
public static class StudentExport
{
    public const string TokenizerFile = ModelFiles.TokenizerFile;
    public const string ReadmeFile = "README.txt";

    /// <summary>How README.txt begins: it is written first, and marks the folder as Distill's (<see cref="Workspace.OwnedFolder.Export"/>).</summary>
    public const string ReadmeTitle = "Distill student export:";

    /// <summary>The folder an export is assembled in before it replaces <paramref name="exportDir"/>.</summary>
    public static string TempOf(string exportDir) => Path.GetFullPath(exportDir) + ".tmp";

    /// <summary>Exports <paramref name="student"/> into <paramref name="exportDir"/> (replacing an earlier export). The
    /// tokenizer and processor files are the checkpoint's own, or <paramref name="data"/>'s when it has none. Throws
    /// <see cref="Workspace.FolderNotOwnedException"/>, changing nothing, when either folder is not Distill's.</summary>
    public static void Write(EvaluatedModel student, string exportDir, PreparedData data)
    {
        var full = Path.GetFullPath(exportDir);
        var tmp = TempOf(full);
        Workspace.OwnedFolder.Export.Require(full);
        Workspace.OwnedFolder.Export.Require(tmp);
        var config = Checkpoint.ReadConfig(student.Checkpoint).Vlm
            ?? throw new InvalidDataException($"{student.Checkpoint}: the student to export is not a LLaVA model.");
        var weights = Path.Combine(student.Checkpoint, Checkpoint.WeightsFile);
        if (!File.Exists(weights)) throw new FileNotFoundException($"{weights}: the student to export has no weights.", weights);

        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        File.WriteAllText(Path.Combine(tmp, ReadmeFile), Readme(student, config), new UTF8Encoding(false)); // first: marks it
        foreach (var file in ModelFiles.Files)
            if (File.Exists(Path.Combine(student.Checkpoint, file))) File.Copy(Path.Combine(student.Checkpoint, file), Path.Combine(tmp, file));
        if (!File.Exists(Path.Combine(student.Checkpoint, TokenizerFile))) data.SaveProcessingFiles(tmp);
        if (config.Text.VocabSize < data.Tokenizer.VocabSize)
            throw new InvalidDataException(
                $"{student.Checkpoint}: vocab_size {config.Text.VocabSize} is smaller than the exported tokenizer's {data.Tokenizer.VocabSize} ids");

        if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
        Directory.Move(tmp, full);
    }

    /// <summary>The first line of an export's README.txt ("Distill student export: ..."), or null when there is none.</summary>
    public static string? Describe(string exportDir)
    {
        var readme = Path.Combine(exportDir, ReadmeFile);
        return File.Exists(readme) ? File.ReadLines(readme).FirstOrDefault() : null;
    }

    private static string Readme(EvaluatedModel student, Models.Config.VlmConfig config)
    {
        var inv = CultureInfo.InvariantCulture;
        var p = ParameterAccounting.Count(config);
        var t = config.Text;
        var kind = t.Mod is not null ? "MoD" : t.Moe is not null ? "MoE" : "dense";
        return string.Join('\n',
            $"{ReadmeTitle} model '{student.Name}' ({kind} decoder) from {student.Checkpoint}",
            "",
            $"{Checkpoint.WeightsFile}  weights (safetensors, Hugging Face parameter names)",
            $"{Checkpoint.ConfigFile}        LLaVA-style config (vision tower, projector, decoder{(t.Moe is null ? "" : ", MoE")}{(t.Mod is null ? "" : ", MoD")})",
            $"{TokenizerFile}     the tokenizer ({config.Text.VocabSize} ids in the vocabulary), with tokenizer_config.json and preprocessor_config.json",
            "",
            string.Create(inv, $"Parameters: {p.Total:#,0} total, {p.Activated:#,0} activated per token; decoder {t.Layers} layers, hidden size {t.HiddenSize}."),
            "Load (C#): using var model = Distill.Models.Checkpoints.Checkpoint.Load(dir);",
            t.Mod is null ? "Load (Python): transformers.LlavaForConditionalGeneration.from_pretrained(dir)" : "Load (Python): none; a MoD decoder has no transformers class",
            "Prompt: the run's chat template (distill.data.chat-template) with one <image> token per image feature, then greedy decoding.",
            "");
    }
}
