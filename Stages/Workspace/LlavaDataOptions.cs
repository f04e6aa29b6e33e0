using Distill.Stages.Data.Llava;

namespace Distill.Stages.Workspace;

/// <summary>Where a LLaVA-format run's data comes from and how it is read (<c>distill.data.*</c>).</summary>
/// <param name="Train">a LLaVA conversation file (<c>.json</c> list or <c>.jsonl</c>) or a mixture manifest
/// (<c>{"sources": [...]}</c>, <see cref="DatasetMixture"/>).</param>
/// <param name="ImageFolder">the images of <paramref name="Train"/> (null: the file's folder).</param>
/// <param name="HeldOut">a file of held-out conversations, or null to hold out <paramref name="HeldOutRatio"/> of the
/// training samples by the hash of their id (<see cref="HeldOutSplit"/>).</param>
/// <param name="Test">conversations the eval stage answers (VQA-style exact match); null: the held-out ones.</param>
/// <param name="Pope">a POPE file for the hallucination probes (existence), or null.</param>
/// <param name="Chair">a CHAIR caption file (<see cref="CaptionTruth"/>), or null; with <paramref name="ChairVocabulary"/>.</param>
/// <param name="ModelDir">the folder whose tokenizer (tokenizer.json, tokenizer_config.json), image processor
/// (preprocessor_config.json) and generation_config.json the run uses: the teacher's.</param>
/// <param name="ChatTemplate">a template name, or <c>auto</c> (detected from tokenizer_config.json).</param>
/// <param name="ImageTokens">image features per image (the teacher's patch count after its feature selection).</param>
public sealed record LlavaDataOptions(
    string Train,
    string? ImageFolder,
    string? HeldOut,
    double HeldOutRatio,
    string? Test,
    string? Pope,
    string? Chair,
    string? ChairVocabulary,
    string ModelDir,
    string ChatTemplate,
    string ImageAspect,
    int MaxLength,
    LongSamplePolicy LongSamples,
    double MaxBadFraction,
    bool Strict,
    int ImageTokens,
    int Seed,
    string CaptionPrompt = "Describe this image in detail.",
    int? LabelledImages = null);
