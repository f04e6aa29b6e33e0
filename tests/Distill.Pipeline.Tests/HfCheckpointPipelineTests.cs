using Distill.Stages.Training;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Students;
using Distill.Stages.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Pipeline.Tests;

/// <summary>A run whose teacher is a Hugging Face LLaVA directory (<c>distill.teacher.checkpoint</c>) and whose student's
/// language model starts from a Hugging Face causal LM (<c>distill.model.student.init</c>): the teacher a first run
/// wrote (every checkpoint Distill writes is such a directory) and a Llama of other sizes than the preset's student.</summary>
public class HfCheckpointPipelineTests
{
    /// <summary>A random Llama with the teacher's vocabulary (d 40, 2 layers: not the preset's student) and the given
    /// tokenizer, written as a Hugging Face causal-LM directory.</summary>
    private static string StudentLm(string directory, int vocab, string tokenizerFrom, long seed = 5)
    {
        manual_seed(seed);
        using var lm = new LlamaForCausalLM(new DecoderConfig(VocabSize: vocab, HiddenSize: 40, IntermediateSize: 56, Layers: 2, Heads: 4, KvHeads: 2, MaxPositions: 256));
        Checkpoint.Save(lm, directory);
        File.Copy(tokenizerFrom, Path.Combine(directory, ModelFiles.TokenizerFile));
        return directory;
    }

    private static string TeacherRun(string root)
    {
        var (settings, paths) = TinyRuns.Create(Path.Combine(root, "teacher-run"), "distill.stages = [teacher]");
        Assert.Equal(0, PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None).GetAwaiter().GetResult().ExitCode);
        return Path.Combine(paths.Checkpoints, "teacher");
    }

    [Fact]
    public async Task A_hugging_face_teacher_distils_into_a_student_whose_language_model_starts_from_a_hugging_face_llama()
    {
        using var dir = new TempDir();
        var teacher = TeacherRun(dir.Path);
        // The teacher directory is a Hugging Face LLaVA model with its tokenizer and processor files.
        foreach (var file in ModelFiles.Files.Where(f => f != ModelFiles.SpecialTokensFile)) Assert.True(File.Exists(Path.Combine(teacher, file)), file);
        var teacherConfig = Checkpoint.ReadConfig(teacher);
        Assert.Equal("llava", teacherConfig.ModelType);
        var init = StudentLm(Path.Combine(dir.Path, "student-lm"), teacherConfig.Vlm!.Text.VocabSize, Path.Combine(teacher, ModelFiles.TokenizerFile));

        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run"), "distill.stages = [mimic, eval]",
            $"distill.teacher.checkpoint = \"{teacher}\"", $"distill.model.student.init = \"{init}\"");
        var outcome = await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None);
        Assert.True(outcome.ExitCode == 0, outcome.Failure?.Detail?.Text);

        using var student = Checkpoint.Load(Path.Combine(paths.Checkpoints, "student-dense"));
        using var lm = Checkpoint.LoadCausalLm(init);
        using var teacherModel = Checkpoint.Load(teacher);
        // The student's language model has the init directory's architecture, its tower (and the tower's feature
        // layer) is the teacher's, frozen through training: bit for bit the teacher's.
        Assert.Equal(lm.Config, student.Config.Text);
        Assert.Equal(teacherModel.Config.Vision, student.Config.Vision);
        Assert.Equal(teacherModel.Config.VisionFeatureLayer, student.Config.VisionFeatureLayer);
        var teacherTower = teacherModel.VisionTower.state_dict();
        foreach (var (name, tensor) in student.VisionTower.state_dict())
            Assert.True(torch.equal(tensor, teacherTower[name]).all().item<bool>(), name);
        // Training moved the language model from where the init directory put it, not from a fresh draw: the embedding
        // is still close to the init's (a fresh one would differ by about sqrt(2) of its norm).
        var trained = student.LanguageModel.Model.EmbedTokens.weight!;
        var start = lm.Model.EmbedTokens.weight!;
        var moved = (trained - start).norm().item<float>() / start.norm().item<float>();
        Assert.InRange(moved, 1e-6, 0.5);
        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Contains(entries, e => e.Stage == "eval" && e.Status == RunLedgerStatus.Completed);
    }

    [Fact]
    public async Task A_student_init_with_another_tokenizer_or_vocabulary_is_refused_before_any_stage_naming_both()
    {
        using var dir = new TempDir();
        var teacher = TeacherRun(dir.Path);
        var vocab = Checkpoint.ReadConfig(teacher).Vlm!.Text.VocabSize;

        // Same vocabulary size, another tokenizer.json.
        var other = Path.Combine(dir.Path, "other-tokenizer.json");
        var words = Enumerable.Range(0, vocab).Select(i => $"w{i}").ToArray();
        WordTokenizer.Build([string.Join(' ', words)]).Save(other);
        var foreignTokenizer = StudentLm(Path.Combine(dir.Path, "foreign-tokenizer"), vocab, other);
        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run1"), "distill.stages = [mimic]",
            $"distill.teacher.checkpoint = \"{teacher}\"", $"distill.model.student.init = \"{foreignTokenizer}\"");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None));
        Assert.Contains(Path.Combine(foreignTokenizer, ModelFiles.TokenizerFile), error.Message);
        Assert.Contains(Path.Combine(teacher, ModelFiles.TokenizerFile), error.Message);
        Assert.Contains("must share the tokenizer", error.Message);
        Assert.DoesNotContain(new RunLedger(paths.Ledger).ReadAll(), e => e.Status == RunLedgerStatus.Started);

        // Another vocabulary.
        var foreignVocab = StudentLm(Path.Combine(dir.Path, "foreign-vocab"), vocab + 3, Path.Combine(teacher, ModelFiles.TokenizerFile));
        (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run2"), "distill.stages = [mimic]",
            $"distill.teacher.checkpoint = \"{teacher}\"", $"distill.model.student.init = \"{foreignVocab}\"");
        error = await Assert.ThrowsAsync<InvalidDataException>(() => PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None));
        Assert.Contains($"{foreignVocab} has vocab_size {vocab + 3}, the teacher {teacher} {vocab}", error.Message);
    }
}
