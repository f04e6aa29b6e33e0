using Distill.Models.Config;
using Distill.Models.Generation;
using Distill.Models.Language;
using Distill.Models.Mod;
using Distill.Models.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>LLaVA-style model: vision tower -> mlp2x_gelu projector -> LLaMA decoder.
/// HF parameter names: <c>vision_tower.*</c>, <c>multi_modal_projector.linear_1/2.*</c>,
/// <c>language_model.model.embed_tokens.weight</c>, <c>language_model.model.layers.N.*</c>,
/// <c>language_model.model.norm.weight</c>, <c>language_model.lm_head.weight</c>.</summary>
public sealed class VisionLanguageModel : nn.Module
{
    /// <summary>The model's configuration; <see cref="Moe.MoeUpcycling.Upcycle"/> sets <c>Text.Moe</c>,
    /// <see cref="ModConversion.Convert"/> <c>Text.Mod</c>.</summary>
    public VlmConfig Config { get; internal set; }

    private readonly VisionTower vision_tower;
    private readonly MultiModalProjector multi_modal_projector;
    private readonly LlamaForCausalLM language_model;

    public VisionLanguageModel(VlmConfig config) : base("llava")
    {
        Config = config;
        if (config.ProjectorType != "mlp2x_gelu")
            throw new ArgumentException($"projector type '{config.ProjectorType}' is not supported (only mlp2x_gelu).");
        vision_tower = new VisionTower(config.Vision);
        multi_modal_projector = new MultiModalProjector(config.Vision.HiddenSize, config.Text.HiddenSize);
        language_model = new LlamaForCausalLM(config.Text);
        RegisterComponents();
        Init.HfInit(this);
    }

    public VisionTower VisionTower => vision_tower;
    public MultiModalProjector Projector => multi_modal_projector;
    public LlamaForCausalLM LanguageModel => language_model;

    /// <summary>The device of the model's parameters.</summary>
    public Device Device => language_model.Model.EmbedTokens.weight!.device;

    /// <summary>Moves the model to <paramref name="device"/> (null or CPU: stays where it is) and returns it, so
    /// construction and loading read <c>new VisionLanguageModel(c).OnDevice(d)</c>.</summary>
    public VisionLanguageModel OnDevice(torch.Device? device)
    {
        if (device is not null && device.type != Device.type) this.to(device);
        return this;
    }

    /// <summary>pixels [B,3,H,W] float (see <see cref="ImageTensors"/>), inputIds [B,T] int64 with exactly
    /// NumPatches image tokens per row; attentionMask [B,T] (1 = real token, 0 = pad) or null for none.
    /// Returns logits [B,T,V].</summary>
    public Tensor Forward(Tensor pixels, Tensor inputIds, Tensor? attentionMask = null) =>
        Forward(pixels, inputIds, attentionMask, null);

    /// <summary><see cref="Forward(Tensor, Tensor, Tensor?)"/> with explicit MoD token types: tokenTypes [B,T] bool
    /// (true = competes for the MoD layers, e.g. image and system tokens) or int64 <see cref="ModTokenTypes"/>;
    /// null = derived from inputIds (image tokens compete). Ignored by a model without MoD layers.</summary>
    public Tensor Forward(Tensor pixels, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = torch.NewDisposeScope();
        var features = EncodeImages(pixels);                                             // [B,N,Dt]
        return ForwardWithImageFeatures(features, inputIds, attentionMask, tokenTypes).MoveToOuterDisposeScope();
    }

    /// <summary>Vision tower + projector: pixels [B,3,S,S] -> image features in the LM's width [B,N,Dt].
    /// The result can be cached (e.g. under a frozen tower) and fed to <see cref="ForwardWithImageFeatures"/>.</summary>
    public Tensor EncodeImages(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var patches = vision_tower.forward(pixels.to(Device));                           // [B,N,Dv]
        return multi_modal_projector.forward(patches).MoveToOuterDisposeScope();          // [B,N,Dt]
    }

    /// <summary>The LM forward with precomputed image features [B,N,Dt]: logits [B,T,V].</summary>
    public Tensor ForwardWithImageFeatures(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask = null) =>
        ForwardWithImageFeatures(imageFeatures, inputIds, attentionMask, null);

    /// <summary>As above with explicit MoD token types (see <see cref="Forward(Tensor, Tensor, Tensor?, Tensor?)"/>).</summary>
    public Tensor ForwardWithImageFeatures(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = torch.NewDisposeScope();
        var embeds = EmbedInputs(imageFeatures, inputIds);                                // [B,T,Dt]
        var mask = attentionMask?.to(Device);
        var types = TokenTypesFor(inputIds, tokenTypes);                                  // [B,T] or null
        return language_model.forward(embeds, mask, types, null).MoveToOuterDisposeScope(); // [B,T,V]
    }

    /// <summary>Final decoder hidden states (after the last norm) with precomputed image features: [B,T,Dt].</summary>
    public Tensor HiddenStates(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask = null) =>
        HiddenStates(imageFeatures, inputIds, attentionMask, null);

    /// <summary>As above with explicit MoD token types (see <see cref="Forward(Tensor, Tensor, Tensor?, Tensor?)"/>).</summary>
    public Tensor HiddenStates(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = torch.NewDisposeScope();
        var embeds = EmbedInputs(imageFeatures, inputIds);
        var types = TokenTypesFor(inputIds, tokenTypes);
        return language_model.Model.forward(embeds, attentionMask?.to(Device), types, null).MoveToOuterDisposeScope();
    }

    /// <summary>MoD token types [B,T] int64 of inputIds [B,T]: image tokens compete, all others are text
    /// (see <see cref="ModTokenTypes"/>).</summary>
    public Tensor ModTokenTypesOf(Tensor inputIds) =>
        ModTokenTypes.FromInputIds(inputIds.to(Device), Config.ImageTokenId);

    /// <summary>The types the MoD layers get: the caller's, else derived from the ids; null without MoD layers.</summary>
    private Tensor? TokenTypesFor(Tensor inputIds, Tensor? tokenTypes)
    {
        if (!language_model.Model.HasModLayers) return null;
        var types = tokenTypes is null ? ModTokenTypesOf(inputIds) : ModTokenTypes.From(tokenTypes.to(Device));
        if (!types.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException(
                $"token types have shape [{string.Join(",", types.shape)}], input ids [{string.Join(",", inputIds.shape)}].");
        return types;
    }

    /// <summary>Input embeddings [B,T,Dt]: token embeddings, with the image-token positions of each row replaced,
    /// in order, by that row's N image features. imageFeatures [B,N,Dt]; inputIds [B,T] with exactly N image
    /// tokens per row.</summary>
    public Tensor EmbedInputs(Tensor imageFeatures, Tensor inputIds)
    {
        using var scope = torch.NewDisposeScope();
        var ids = inputIds.to(Device).to_type(ScalarType.Int64);                          // [B,T]
        long b = ids.shape[0], n = Config.Vision.NumPatches;
        if (imageFeatures.shape[0] != b)
            throw new ArgumentException($"{imageFeatures.shape[0]} images for {b} sequences.");
        if (imageFeatures.shape[1] != n || imageFeatures.shape[2] != Config.Text.HiddenSize)
            throw new ArgumentException(
                $"image features have shape [{string.Join(",", imageFeatures.shape)}], expected [{b},{n},{Config.Text.HiddenSize}].");
        var isImage = ids.eq(Scalars.Of(Config.ImageTokenId));                                         // [B,T]
        var counts = isImage.sum(1, type: ScalarType.Int64).cpu().data<long>().ToArray();
        for (var row = 0; row < counts.Length; row++)
            if (counts[row] != n)
                throw new ArgumentException(
                    $"row {row} of input_ids holds {counts[row]} image tokens (id {Config.ImageTokenId}), expected {n}.");
        var textIds = ids.masked_fill(isImage, Scalars.Zero);                                       // image id may lie outside the vocab
        var embeds = language_model.Model.Embed(textIds);                                  // [B,T,Dt]
        var features = imageFeatures.to(Device).to_type(embeds.dtype);
        var slots = isImage.unsqueeze(-1).expand_as(embeds);                                // [B,T,Dt]
        return embeds.masked_scatter(slots, features).MoveToOuterDisposeScope();
    }

    /// <summary>A KV cache for this decoder (see <see cref="Prefill"/>, <see cref="DecodeStep"/>); capacity in positions.</summary>
    public KvCache NewKvCache(long capacity = 0) => new(Config.Text.Layers, capacity);

    /// <summary>First step of incremental decoding: the left-padded prompts inputIds [B,T] (N image tokens per row)
    /// with attentionMask [B,T] (or null) go through the LM and fill the empty cache. imageFeatures [B,N,Dt].
    /// Returns logits [B,T,V], or [B,1,V] of the last position when <paramref name="lastOnly"/>. Use under no_grad.</summary>
    public Tensor Prefill(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, KvCache cache, bool lastOnly = false)
    {
        if (cache.Length != 0) throw new InvalidOperationException($"prefill needs an empty cache; it holds {cache.Length} positions.");
        using var scope = torch.NewDisposeScope();
        var embeds = EmbedInputs(imageFeatures, inputIds);                                // [B,T,Dt]
        var types = TokenTypesFor(inputIds, null);                                        // [B,T] or null
        return language_model.forward(embeds, attentionMask?.to(Device), types, cache, lastOnly).MoveToOuterDisposeScope();
    }

    /// <summary>Next step of incremental decoding: text ids [B,T] (no image tokens; usually T = 1) that follow the
    /// cached positions of each row -> logits [B,T,V]. Use under no_grad. In a MoD model the new tokens are
    /// <see cref="ModTokenTypes.Generated"/>: in eval mode a MoD layer skips a token whose p is below the decode
    /// threshold (and caches nothing for it).</summary>
    public Tensor DecodeStep(Tensor inputIds, KvCache cache)
    {
        if (cache.Length == 0) throw new InvalidOperationException("decode step on an empty cache: call Prefill first.");
        using var scope = torch.NewDisposeScope();
        var ids = inputIds.to(Device).to_type(ScalarType.Int64);                          // [B,T]
        var embeds = language_model.Model.Embed(ids);                                      // [B,T,Dt]
        var types = language_model.Model.HasModLayers ? torch.full_like(ids, Scalars.Of(ModTokenTypes.Generated)) : null;
        return language_model.forward(embeds, null, types, cache).MoveToOuterDisposeScope(); // [B,T,V]
    }

    /// <summary>Greedy decoding of a batch of prompts (each ending in the assistant marker), left-padded
    /// internally, with a KV cache. Returns, per prompt, the generated ids without the prompt and without the final eos.</summary>
    public IReadOnlyList<int[]> GenerateGreedy(Tensor pixels, IReadOnlyList<int[]> prompts, int maxNewTokens, int eosId, int padId) =>
        Generate(pixels, prompts, GenerationOptions.Greedy(maxNewTokens, eosId, padId)).Tokens;

    /// <summary>Greedy or seeded sampling (see <see cref="GenerationOptions"/>) over pixels [B,3,H,W] and one prompt per row.</summary>
    public GenerationResult Generate(Tensor pixels, IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        if (pixels.shape[0] != prompts.Count)
            throw new ArgumentException($"{pixels.shape[0]} images for {prompts.Count} prompts.");
        using var noGrad = torch.no_grad();
        using var features = EncodeImages(pixels);                                         // [B,N,Dt]
        return BatchGenerator.Generate(this, features, prompts, options);
    }

    /// <summary><see cref="Generate"/> with precomputed image features [B,N,Dt].</summary>
    public GenerationResult GenerateWithImageFeatures(Tensor imageFeatures, IReadOnlyList<int[]> prompts, GenerationOptions options) =>
        BatchGenerator.Generate(this, imageFeatures, prompts, options);

    /// <summary>Per row, the summed log-probability of responses[i] given image i and prompts[i] (and the token
    /// counts), in one padded forward. Gradients flow when grad is enabled.</summary>
    public ResponseLogProbs ScoreResponses(Tensor pixels, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId)
    {
        using var scope = torch.NewDisposeScope();
        var features = EncodeImages(pixels);                                               // [B,N,Dt]
        var scores = ResponseScorer.Score(this, features, prompts, responses, padId);
        scores.Sum.MoveToOuterDisposeScope();
        return scores;
    }

    /// <summary><see cref="ScoreResponses"/> with precomputed image features [B,N,Dt].</summary>
    public ResponseLogProbs ScoreResponsesWithImageFeatures(Tensor imageFeatures, IReadOnlyList<int[]> prompts,
        IReadOnlyList<int[]> responses, int padId) =>
        ResponseScorer.Score(this, imageFeatures, prompts, responses, padId);

    /// <summary>Left-pads sequences with padId: ids [B,L] int64 and attention mask [B,L] int64 (0 on pads).</summary>
    public (Tensor Ids, Tensor Mask) LeftPad(IReadOnlyList<IReadOnlyList<int>> sequences, int padId)
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
        return (torch.tensor(ids, [sequences.Count, length], device: Device),
                torch.tensor(mask, [sequences.Count, length], device: Device));
    }

    /// <summary>Copies the vision tower weights from another model (same VisionConfig).</summary>
    public void LoadVisionTowerFrom(VisionLanguageModel other)
    {
        if (other.Config.Vision != Config.Vision)
            throw new ArgumentException($"vision configs differ: {other.Config.Vision} vs {Config.Vision}.");
        using var noGrad = torch.no_grad();
        var source = other.vision_tower.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in vision_tower.named_parameters())
            parameter.copy_(source[name]);
    }

    /// <summary>Freezes (requires_grad = false) the vision tower.</summary>
    public void FreezeVisionTower()
    {
        foreach (var parameter in vision_tower.parameters())
            parameter.requires_grad = false;
    }

    /// <summary>Sum of the MoE aux load-balancing losses of the last forward (0 without MoE layers); the caller
    /// applies <see cref="MoeConfig.AuxLossCoefficient"/>.</summary>
    public Tensor MoeAuxLoss() => Moe.MoeLoss.AuxLoss(this, Device);

    /// <summary>Sum of the MoD routing losses of the last forward over all MoD layers (scalar float32; 0 without MoD
    /// layers); the caller applies <see cref="ModConfig.RoutingLossCoefficient"/>.</summary>
    public Tensor ModRoutingLoss() => language_model.Model.ModRoutingLoss(Device);

    /// <summary>The MoD layers of the decoder, in layer order (empty for a model without MoD).</summary>
    public IReadOnlyList<ModDecoderLayer> ModLayers => language_model.Model.ModLayers;

    /// <summary>Attention probabilities of a prefill forward (for ARank, DESIGN 5.4 step 1), under no_grad:
    /// per decoder layer [B,H,T,T] float32, causal, each row summing to 1 over the keys it may attend to
    /// (padding excluded); rows of padding queries (which may attend to nothing) are 0, as are, in a MoD layer, rows
    /// and columns of tokens that skipped it. pixels [B,3,H,W],
    /// inputIds [B,T], attentionMask [B,T] or null; tokenTypes as in <see cref="Forward(Tensor, Tensor, Tensor?, Tensor?)"/>.
    /// The maps belong to the caller's dispose scope. The normal forward records nothing.</summary>
    public IReadOnlyList<Tensor> AttentionMaps(Tensor pixels, Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypes = null)
    {
        using var noGrad = torch.no_grad();
        using var capture = new AttentionCapture(Config.Text.Layers);
        using (var scope = torch.NewDisposeScope())
        {
            var embeds = EmbedInputs(EncodeImages(pixels), inputIds);                     // [B,T,Dt]
            var types = TokenTypesFor(inputIds, tokenTypes);
            language_model.Model.forward(embeds, attentionMask?.to(Device), types, null, capture);
        }
        // New handles for the caller's scope (the capture frees its own); padding queries' rows zeroed.
        using var outputScope = torch.NewDisposeScope();
        var queries = attentionMask?.to(Device).ne(Scalars.Zero).view(inputIds.shape[0], 1, inputIds.shape[1], 1); // [B,1,T,1]
        return Enumerable.Range(0, capture.LayerCount)
            .Select(i => (queries is null ? capture[i]!.alias() : capture[i]!.mul(queries)).MoveToOuterDisposeScope())
            .ToList();
    }

    /// <summary>Total parameter count.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>Parameters that require grad (what an optimizer should get).</summary>
    public IReadOnlyList<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad).ToList();
}
