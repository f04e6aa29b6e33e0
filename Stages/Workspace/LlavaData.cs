using System.Collections;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Data.Llava;
using Distill.Stages.Images;
using Distill.Stages.Scoring;
using Distill.Stages.Text;
using Distill.Stages.Training;

namespace Distill.Stages.Workspace;

/// <summary>A user's LLaVA-format dataset with the teacher's Hugging Face tokenizer, chat template and image
/// processor. <see cref="Prepare"/> reads every file once: each sample is tokenized through the template and its
/// image decoded and processed once to prove it usable (bad ones are reported with their id and reason, counted in
/// <see cref="Quality"/>, and fail the run past <c>distill.data.max-bad-fraction</c>); only the ids and labels stay
/// in memory. A row's image is decoded again whenever the row is read (a loader decodes per shard), so a large
/// dataset never holds its images in memory at once.
/// <para>Splits: <c>train</c> (the training conversations not held out), <c>val</c> (held out), <c>test</c> (the
/// test conversations as <c>vqa</c> questions, else the held-out ones; POPE probes as <c>existence</c>; CHAIR images
/// as <c>caption</c>). A row's single image token becomes <see cref="PreparedData.ImageTokens"/> of them, as the
/// Shapes rows and LLaVA's own expansion have it; <c>max-length</c> counts the expanded sequence.</para></summary>
public sealed class LlavaData : PreparedData
{
    public const string Conversation = "conversation", Vqa = "vqa", Existence = ShapesVocabulary.Existence, Caption = ShapesVocabulary.Caption;

    private readonly Dictionary<string, IReadOnlyList<Entry>> _splits;
    private readonly ImageLoader _images;
    private readonly ConversationTemplate _template;
    private readonly HfTokenizer _tokenizer;
    private readonly ObjectVocabulary? _objects;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<string>> _truth;
    private readonly string _modelDir;

    private sealed record Entry(QuestionSample Sample, string ImagePath, int[] Ids, bool[] Labels);

    private LlavaData(string datasetDir, HfTokenizer tokenizer, ImageLoader images, ConversationTemplate template, int imageTokens,
        int imageTokenId, int padId, GenerationStop stop, string modelDir, ObjectVocabulary? objects)
        : base(datasetDir, tokenizer, images.Processor.Config.Format(), imageTokens, imageTokenId, padId, stop)
    {
        _tokenizer = tokenizer;
        _images = images;
        _template = template;
        _modelDir = modelDir;
        _objects = objects;
        _splits = new();
        _truth = new Dictionary<string, IReadOnlyList<string>>();
    }

    public override AnswerMatch Answers => AnswerMatch.Vqa;

    /// <summary>What reading met: samples, bad ones, truncations, text-only samples left out.</summary>
    public DataQuality Quality { get; private set; } = DataQuality.None;

    /// <summary>The chat template the conversations are encoded with.</summary>
    public string TemplateName => _template.Name;

    /// <summary>Reads, checks and encodes the dataset (see the type's summary). <paramref name="progress"/> gets
    /// (samples checked, samples to check).</summary>
    public static LlavaData Prepare(LlavaDataOptions o, Action<int, int>? progress = null, Action<BadSample>? report = null)
    {
        var modelDir = Path.GetFullPath(o.ModelDir);
        var tokenizer = HfTokenizer.Load(modelDir);
        var templateName = o.ChatTemplate == "auto"
            ? ConversationTemplates.Detect(modelDir) ?? throw new InvalidDataException(
                $"distill.data.chat-template = auto: {Path.Combine(modelDir, ProcessingFiles.TokenizerConfig)} names no known chat template; set it to one of {string.Join(", ", ConversationTemplates.Names)}")
            : o.ChatTemplate;
        var template = ConversationTemplates.ByName(templateName);
        var processor = ImageProcessors.Load(modelDir);
        var images = new ImageLoader(processor, ImageLoader.ParseAspect(o.ImageAspect));
        var imageTokenId = tokenizer.TokenToId(ConversationTemplate.ImageToken)
            ?? throw new InvalidDataException($"{Path.Combine(modelDir, ProcessingFiles.Tokenizer)} has no {ConversationTemplate.ImageToken} token; a LLaVA tokenizer adds it as an added token");
        var endOfTurn = tokenizer.TokenToId(template.EndOfTurn)
            ?? throw new InvalidDataException($"chat template {template.Name}: the tokenizer has no {template.EndOfTurn} token");
        var generation = File.Exists(Path.Combine(modelDir, HfConfigJson.GenerationFile)) || File.Exists(Path.Combine(modelDir, Checkpoint.ConfigFile))
            ? Checkpoint.ReadConfig(modelDir).Generation
            : Models.Config.GenerationConfig.None;
        var eos = new List<int> { endOfTurn };
        foreach (var id in generation.EosTokenIds.Append(tokenizer.EosId ?? endOfTurn)) if (!eos.Contains(id)) eos.Add(id);
        int pad = generation.PadTokenId ?? tokenizer.PadId ?? tokenizer.EosId ?? endOfTurn;
        var objects = o.Chair is null ? null
            : ObjectVocabulary.Load(o.ChairVocabulary ?? throw new InvalidDataException("distill.data.chair is set, but distill.data.chair-vocabulary (the CHAIR object vocabulary) is not"));
        var trainFile = Path.GetFullPath(o.Train);
        var data = new LlavaData(Path.GetDirectoryName(trainFile)!, tokenizer, images, template, o.ImageTokens, imageTokenId, pad,
            new GenerationStop(eos, generation.MaxNewTokens), modelDir, objects) { LabelledImages = o.LabelledImages };
        data.Read(o, trainFile, progress, report);
        return data;
    }

    private void Read(LlavaDataOptions o, string trainFile, Action<int, int>? progress, Action<BadSample>? report)
    {
        var read = new BadSampleBudget(1, o.Strict, report);
        var train = Conversations(trainFile, o.ImageFolder, read, o.Seed);
        IReadOnlyList<ConversationSample> heldOut;
        if (o.HeldOut is not null)
        {
            heldOut = Conversations(Path.GetFullPath(o.HeldOut), o.ImageFolder, read, o.Seed);
        }
        else
        {
            heldOut = train.Where(s => HeldOutSplit.IsHeldOut(s.Id, o.HeldOutRatio)).ToList();
            train = train.Where(s => !HeldOutSplit.IsHeldOut(s.Id, o.HeldOutRatio)).ToList();
        }
        var test = o.Test is null ? null : Conversations(Path.GetFullPath(o.Test), o.ImageFolder, read, o.Seed);
        var pope = o.Pope is null ? [] : PopeQuestion.Read(o.Pope, o.ImageFolder ?? Path.GetDirectoryName(Path.GetFullPath(o.Pope))!, read).ToList();
        var chair = o.Chair is null ? [] : CaptionTruth.Read(o.Chair, o.ImageFolder ?? Path.GetDirectoryName(Path.GetFullPath(o.Chair))!, read).ToList();
        var truth = (Dictionary<string, IReadOnlyList<string>>)_truth;
        foreach (var c in chair) truth[CaptionId(c.Id)] = c.Objects;

        var testSamples = (test ?? heldOut).Select(s => (Sample: s, Task: Vqa))
            .Concat(pope.Select(p => (Sample: Turns($"pope-{p.QuestionId}", p.Image, p.Text, p.Label ? "Yes" : "No", o.Pope!), Task: Existence)))
            .Concat(chair.Select(c => (Sample: Turns(CaptionId(c.Id), c.Image, o.CaptionPrompt, string.Join(", ", c.Objects), o.Chair!), Task: Caption)))
            .ToList();
        var settings = pope.ToDictionary(p => $"pope-{p.QuestionId}", p => p.Setting);

        var encode = new BadSampleBudget(1, o.Strict, report);
        var maxLength = Math.Max(2, o.MaxLength - (ImageTokens - 1));
        var encoder = new ConversationEncoder(_tokenizer, _template, _images, maxLength, o.LongSamples);
        var all = train.Select(s => (Split: "train", Sample: s, Task: Conversation))
            .Concat(heldOut.Select(s => (Split: "val", Sample: s, Task: Conversation)))
            .Concat(testSamples.Select(t => (Split: "test", t.Sample, t.Task)))
            .ToList();
        int textOnly = all.Count(x => !x.Sample.HasImage);
        var work = all.Where(x => x.Sample.HasImage).ToList();
        var encoded = new Entry?[work.Count];
        int done = 0;
        try
        {
            Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, i =>
            {
                var (_, sample, task) = work[i];
                if (encoder.Encode(sample, encode) is { } e)
                {
                    var question = sample.Turns[0].Value;
                    var answer = sample.Turns[1].Value;
                    var q = new QuestionSample(sample.Id, sample.Image!, task, question, answer,
                        sample.Turns.Select(t => new Turn(t.From, t.Value)).ToList()) { Probe = settings.GetValueOrDefault(sample.Id) };
                    var (ids, labels) = Expand(e.InputIds, e.Labels);
                    encoded[i] = new Entry(q, sample.Image!, ids, labels);
                }
                var n = Interlocked.Increment(ref done);
                if (n % 50 == 0 || n == work.Count) progress?.Invoke(n, work.Count);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is BadDataException) is { } first)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first); // distill.data.strict: the first bad sample stops the run
        }
        foreach (var split in new[] { "train", "val", "test" })
            _splits[split] = work.Select((w, i) => (w.Split, Entry: encoded[i])).Where(x => x.Split == split && x.Entry is not null).Select(x => x.Entry!).ToList();

        var bad = read.Bad.Concat(encode.Bad).ToList();
        int total = read.Good + read.Bad.Count;
        Quality = new DataQuality(total, bad, encoder.Truncated, textOnly);
        BadSampleBudget.Check(bad, total, o.MaxBadFraction);
        if (_splits["train"].Count == 0) throw new BadDataException($"{trainFile}: no usable training sample with an image ({bad.Count} bad, {textOnly} text-only)");
        if (_splits["test"].Count == 0)
            throw new InvalidDataException(o.HeldOut is null && o.Test is null
                ? $"{trainFile}: nothing to evaluate on: distill.data.test is not set and the held-out split (distill.data.held-out-ratio = {o.HeldOutRatio} of {train.Count + heldOut.Count} samples) is empty; give distill.data.test or distill.data.held-out, or raise the ratio"
                : $"{o.Test ?? o.HeldOut}: no usable sample to evaluate on");
    }

    /// <summary>A file's conversations: a mixture manifest (a JSON object) mixed by its weights, else the file itself.</summary>
    private static IReadOnlyList<ConversationSample> Conversations(string file, string? imageFolder, BadSampleBudget budget, int seed)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"dataset file not found: {file}", file);
        return IsManifest(file)
            ? DatasetMixture.Load(file).Mix(seed, budget)
            : LlavaConversationReader.Read(file, imageFolder, budget).ToList();
    }

    private static bool IsManifest(string file)
    {
        if (file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) return false;
        using var reader = new StreamReader(file);
        int c;
        while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c)) { }
        return c == '{';
    }

    private static ConversationSample Turns(string id, string image, string question, string answer, string source) =>
        new(id, image, [new(ConversationTurn.Human, $"{ConversationTemplate.ImageToken}\n{question}"), new(ConversationTurn.Gpt, answer)], source);

    private static string CaptionId(string id) => $"chair-{id}";

    /// <summary>Ids with their one image token expanded to <see cref="PreparedData.ImageTokens"/> (never labels).</summary>
    private (int[] Ids, bool[] Labels) Expand(int[] ids, bool[] labels)
    {
        var outIds = new List<int>(ids.Length + ImageTokens);
        var outLabels = new List<bool>(ids.Length + ImageTokens);
        for (int i = 0; i < ids.Length; i++)
        {
            int n = ids[i] == ImageTokenId ? ImageTokens : 1;
            for (int k = 0; k < n; k++) { outIds.Add(ids[i]); outLabels.Add(labels[i] && n == 1); }
        }
        return (outIds.ToArray(), outLabels.ToArray());
    }

    protected override IReadOnlyList<QuestionSample> SplitSamples(string split) => Split(split).Select(e => e.Sample).ToList();

    protected override IReadOnlyList<SampleRow> SplitRows(string split) => new DecodedRows(this, Split(split));

    private IReadOnlyList<Entry> Split(string split) => _splits.TryGetValue(split, out var entries)
        ? entries
        : throw new ArgumentException($"no split '{split}'; the splits are train, val and test", nameof(split));

    public override int[] EncodePrompt(string question)
    {
        var text = question.Contains(ConversationTemplate.ImageToken, StringComparison.Ordinal) ? question : $"{ConversationTemplate.ImageToken}\n{question}";
        var ids = _template.EncodePrompt(_tokenizer, [(true, text)]);
        return Expand(ids, new bool[ids.Length]).Ids;
    }

    public override bool HasExactAnswer(QuestionSample sample) => sample.Task is Vqa or Existence && !string.IsNullOrEmpty(sample.Answer);

    public override CaptionJudgement JudgeCaption(QuestionSample sample, string caption) =>
        _objects is not null && _truth.TryGetValue(sample.Id, out var truth)
            ? _objects.Judge(caption, truth.ToList())
            : throw new InvalidDataException($"caption sample '{sample.Id}' has no ground-truth objects (distill.data.chair)");

    public override IReadOnlySet<ObjectName>? ObjectsOf(QuestionSample sample) => null;

    public override byte[] LoadImage(string path, string where)
    {
        try { return _images.LoadPacked(path); }
        catch (ImageDecodeException e) { throw new InvalidDataException($"{where}: {e.Message}", e); }
    }

    /// <summary>Copies the teacher folder's tokenizer files and image processor configuration.</summary>
    public override void SaveProcessingFiles(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in new[] { ProcessingFiles.Tokenizer, ProcessingFiles.TokenizerConfig, ProcessingFiles.SpecialTokensMap, ProcessingFiles.Preprocessor })
        {
            var source = Path.Combine(_modelDir, file);
            var target = Path.Combine(directory, file);
            if (File.Exists(source) && Path.GetFullPath(source) != Path.GetFullPath(target))
                Models.IO.AtomicFile.WriteAllBytes(target, File.ReadAllBytes(source));
        }
    }

    /// <summary>A split's rows, each image decoded when the row is read.</summary>
    private sealed class DecodedRows(LlavaData data, IReadOnlyList<Entry> entries) : IReadOnlyList<SampleRow>
    {
        public int Count => entries.Count;

        public SampleRow this[int index]
        {
            get
            {
                var e = entries[index];
                return new SampleRow(e.Sample.Id, data.LoadImage(e.ImagePath, $"sample '{e.Sample.Id}'"), e.Ids, e.Labels, e.Sample.Task, e.Sample.Answer);
            }
        }

        public IEnumerator<SampleRow> GetEnumerator()
        {
            for (int i = 0; i < entries.Count; i++) yield return this[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
