using System.Globalization;
using System.Text;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Stages.Text;

namespace Distill.Stages.Evaluation;

/// <summary>Export of the final student (DESIGN 5.5): <c>model.safetensors</c>, <c>config.json</c> and
/// <c>tokenizer.json</c> copied into one directory, with a README.txt that says what it is and how to load it
/// (<see cref="Checkpoint.Load"/> and <see cref="WordTokenizer.Load"/>). The directory is assembled under a temporary
/// name and then put in place, so it is either the previous export or the whole new one. Both folders are replaced
/// only when they are Distill's (<see cref="Workspace.OwnedFolder.Export"/>: empty, or with a README.txt of Distill's,
/// which is the first file written into them); anything else is refused.</summary>
public static class StudentExport
{
    public const string TokenizerFile = Students.ModelFiles.TokenizerFile;
    public const string ReadmeFile = "README.txt";

    /// <summary>How README.txt begins: it is written first, and marks the folder as Distill's (<see cref="Workspace.OwnedFolder.Export"/>).</summary>
    public const string ReadmeTitle = "Distill student export:";

    /// <summary>The folder an export is assembled in before it replaces <paramref name="exportDir"/>.</summary>
    public static string TempOf(string exportDir) => Path.GetFullPath(exportDir) + ".tmp";

    /// <summary>Exports <paramref name="student"/> into <paramref name="exportDir"/> (replacing an earlier export). The
    /// tokenizer is the checkpoint's own tokenizer.json, or <paramref name="tokenizer"/> when it has none. Throws
    /// <see cref="Workspace.FolderNotOwnedException"/>, changing nothing, when either folder is not Distill's.</summary>
    public static void Write(EvaluatedModel student, string exportDir, WordTokenizer tokenizer)
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
        foreach (var file in Students.ModelFiles.Files.Where(f => f != TokenizerFile))
            if (File.Exists(Path.Combine(student.Checkpoint, file))) File.Copy(Path.Combine(student.Checkpoint, file), Path.Combine(tmp, file));
        var ownTokenizer = Path.Combine(student.Checkpoint, TokenizerFile);
        if (File.Exists(ownTokenizer)) File.Copy(ownTokenizer, Path.Combine(tmp, TokenizerFile));
        else tokenizer.Save(Path.Combine(tmp, TokenizerFile));
        var check = WordTokenizer.Load(Path.Combine(tmp, TokenizerFile));
        if (check.VocabSize != config.Text.VocabSize)
            throw new InvalidDataException(
                $"{student.Checkpoint}: vocab_size {config.Text.VocabSize} does not match the exported tokenizer ({check.VocabSize} tokens)");

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
            $"{TokenizerFile}     the word tokenizer ({config.Text.VocabSize} tokens)",
            "",
            string.Create(inv, $"Parameters: {p.Total:#,0} total, {p.Activated:#,0} activated per token; decoder {t.Layers} layers, hidden size {t.HiddenSize}."),
            "Load (C#): using var model = Distill.Models.Checkpoints.Checkpoint.Load(dir);",
            "           var tokenizer = Distill.Stages.Text.WordTokenizer.Load(Path.Combine(dir, \"tokenizer.json\"));",
            "Prompt: <s> <|user|> <image> x N question <|assistant|> (Distill.Stages.Text.ChatTemplate.EncodePrompt), then greedy decoding.",
            "");
    }
}
