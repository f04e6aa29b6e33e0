using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Mod;
using Distill.Models.Moe;
using Distill.Models.Torch;
using Distill.Models.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>HF <c>LlavaForConditionalGeneration</c>: vision tower -> projector -> decoder LM. Parameter names as
/// transformers 4.40 builds them: <c>vision_tower.vision_model.*</c>, <c>multi_modal_projector.linear_1/2.*</c>,
/// <c>language_model.model.*</c>, <c>language_model.lm_head.weight</c>. The LM gets
/// <see cref="VlmConfig.ImageFeatures"/> rows per image (<see cref="EncodeImages"/>) in place of the image tokens of
/// input_ids: one image token per image is expanded to that many positions, as transformers does, and a sequence
/// that holds them already is taken as it is.</summary>
public sealed class VisionLanguageModel : nn.Module
{
    private VlmConfig _config;

    private readonly VisionTower vision_tower;
    private readonly MultiModalProjector multi_modal_projector;
    private readonly LlamaForCausalLM language_model;

    /// <param name="config">the model.</param>
    /// <param name="placement">device and dtype of the parameters (default float32 on the CPU); HF's initialisation
    /// (normal(0, 0.02) weights, zero biases, unit norms) unless <see cref="Placement.Initialize"/> is off, for a model
    /// whose every weight a checkpoint is about to overwrite.</param>
    public VisionLanguageModel(VlmConfig config, Placement? placement = null) : base("llava")
    {
        if (config.VisionLayersUsed < 0 || config.VisionLayersUsed > config.Vision.Layers)
            throw new ArgumentException($"vision_feature_layer {config.VisionFeatureLayer} is out of range for {config.Vision.Layers} layers.");
        if (!VlmConfig.Strategies.Contains(config.VisionFeatureSelectStrategy))
            throw new ArgumentException($"vision_feature_select_strategy '{config.VisionFeatureSelectStrategy}' is not supported; supported: {string.Join(", ", VlmConfig.Strategies)}");
        _config = config;
        vision_tower = new VisionTower(config.Vision, placement);
        multi_modal_projector = new MultiModalProjector(config.Vision.HiddenSize, config.Text.HiddenSize, config.ProjectorHiddenAct, placement);
        language_model = DecoderFactory.Create(config.Text, placement);
        RegisterComponents();
        if ((placement ?? Placement.Cpu) is { Initialize: true, IsMeta: false }) Init.HfInit(this);
    }

    /// <summary>The model's configuration; its text part is the decoder's (MoE upcycling and MoD conversion record
    /// themselves there).</summary>
    public VlmConfig Config
    {
        get => _config with { Text = language_model.Config };
        internal set
        {
            _config = value;
            language_model.Config = value.Text;
        }
    }

    public VisionTower VisionTower => vision_tower;
    public MultiModalProjector Projector => multi_modal_projector;
    public LlamaForCausalLM LanguageModel => language_model;

    /// <summary>The device of the model's parameters.</summary>
    public Device Device => language_model.Model.EmbedTokens.weight!.device;

    /// <summary>The dtype of the model's parameters.</summary>
    public ScalarType DType => language_model.Model.EmbedTokens.weight!.dtype;

    /// <summary>Moves the model to <paramref name="placement"/>'s device and casts its floating-point parameters to its
    /// dtype (null: stays as it is) and returns it, so construction and loading read
    /// <c>new VisionLanguageModel(c).Place(p)</c>.</summary>
    public VisionLanguageModel Place(Placement? placement)
    {
        if (placement is null) return this;
        if (placement.Device is { } device && (device.type != Device.type || device.index != Device.index)) this.to(device);
        if (placement.DType != DType) this.to(placement.DType);
        return this;
    }

    /// <summary>pixels [B,3,H,W] float (see <see cref="ImageTensors"/>), inputIds [B,T] int64 with one image token per
    /// row (expanded here) or <see cref="VlmConfig.ImageFeatures"/> of them; attentionMask [B,T] (1 = real token, 0 =
    /// pad) or null for none. Returns logits [B,T',V] over the expanded sequence (T' = T - 1 + F for one image
    /// token, else T).</summary>
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

    /// <summary>Vision tower + projector: pixels [B,3,S,S] -> image features in the LM's width [B,F,Dt].
    /// The result can be cached (e.g. under a frozen tower) and fed to <see cref="ForwardWithImageFeatures"/>.</summary>
    public Tensor EncodeImages(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        return multi_modal_projector.forward(SelectImageFeatures(pixels)).MoveToOuterDisposeScope(); // [B,F,Dt]
    }

    /// <summary>The tower rows the projector takes (transformers' <c>hidden_states[vision_feature_layer]</c>, without
    /// the first row for the <c>default</c> strategy): pixels [B,3,S,S] -> [B,F,Dv].</summary>
    public Tensor SelectImageFeatures(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var config = Config;
        var hidden = vision_tower.HiddenState(pixels.to(Device), config.VisionLayersUsed);   // [B,rows,Dv]
        if (config.VisionFeatureSelectStrategy == "default") hidden = hidden.narrow(1, 1, hidden.shape[1] - 1);
        return hidden.MoveToOuterDisposeScope();                                          // [B,F,Dv]
    }

    /// <summary>inputIds [B,T] (and attentionMask [B,T] or null) with every image token of a row expanded to
    /// <see cref="VlmConfig.ImageFeatures"/> positions, as transformers does: rows that hold one image token grow by
    /// F - 1 (the mask gets 1 on the new positions); rows that hold F already are returned as they are. Every row
    /// must hold one image token, or F. In the caller's dispose scope, on the model's device.</summary>
    public (Tensor Ids, Tensor? Mask) ExpandImageTokens(Tensor inputIds, Tensor? attentionMask)
    {
        var config = Config;
        long b = inputIds.shape[0], t = inputIds.shape[1], f = config.ImageFeatures;
        long[] ids, mask;
        using (var cpu = inputIds.to_type(ScalarType.Int64).cpu().contiguous()) ids = cpu.data<long>().ToArray();
        using (var cpu = attentionMask?.to_type(ScalarType.Int64).cpu().contiguous()) mask = cpu?.data<long>().ToArray() ?? [];
        var counts = Enumerable.Range(0, (int)b).Select(r => ids.Skip(r * (int)t).Take((int)t).Count(x => x == config.ImageTokenId)).ToArray();
        if (counts.All(c => c == f))
            return (inputIds.to(Device).to_type(ScalarType.Int64), attentionMask?.to(Device));
        // Name a row that holds neither form; failing that (rows of both forms), the first that is not expanded here.
        var bad = Array.FindIndex(counts, c => c != 1 && c != f);
        if (bad < 0) bad = Array.FindIndex(counts, c => c != 1);
        if (bad >= 0)
            throw new ArgumentException(
                $"row {bad} of input_ids holds {counts[bad]} image tokens (id {config.ImageTokenId}); every row needs one (expanded here to {f}) or {f}, and all rows the same form.");
        long grown = t - 1 + f;
        var newIds = new long[b * grown];
        var newMask = new long[b * grown];
        for (var r = 0; r < b; r++)
        {
            var j = 0L;
            for (var i = 0; i < t; i++)
            {
                var id = ids[r * t + i];
                var m = mask.Length == 0 ? 1 : mask[r * t + i];
                for (var k = 0; k < (id == config.ImageTokenId ? f : 1); k++, j++)
                {
                    newIds[r * grown + j] = id;
                    newMask[r * grown + j] = m;
                }
            }
        }
        return (torch.tensor(newIds, [b, grown], device: Device),
                attentionMask is null ? null : torch.tensor(newMask, [b, grown], device: Device));
    }

    /// <summary>The LM forward with precomputed image features [B,F,Dt]: logits [B,T',V] (image tokens expanded as in
    /// <see cref="Forward(Tensor, Tensor, Tensor?)"/>).</summary>
    public Tensor ForwardWithImageFeatures(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask = null) =>
        ForwardWithImageFeatures(imageFeatures, inputIds, attentionMask, null);

    /// <summary>As above with explicit MoD token types (see <see cref="Forward(Tensor, Tensor, Tensor?, Tensor?)"/>).</summary>
    public Tensor ForwardWithImageFeatures(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = torch.NewDisposeScope();
        var (ids, mask) = ExpandImageTokens(inputIds, attentionMask);                     // [B,T']
        var embeds = EmbedInputs(imageFeatures, ids);                                     // [B,T',Dt]
        var types = TokenTypesFor(ids, tokenTypes);                                       // [B,T'] or null
        return language_model.forward(embeds, mask, types, null).MoveToOuterDisposeScope(); // [B,T',V]
    }

    /// <summary>Final decoder hidden states (after the last norm) with precomputed image features: [B,T,Dt].</summary>
    public Tensor HiddenStates(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask = null) =>
        HiddenStates(imageFeatures, inputIds, attentionMask, null);

    /// <summary>As above with explicit MoD token types (see <see cref="Forward(Tensor, Tensor, Tensor?, Tensor?)"/>).</summary>
    public Tensor HiddenStates(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypes)
    {
        using var scope = torch.NewDisposeScope();
        var (ids, mask) = ExpandImageTokens(inputIds, attentionMask);
        var embeds = EmbedInputs(imageFeatures, ids);
        var types = TokenTypesFor(ids, tokenTypes);
        return language_model.Model.forward(embeds, mask, types, null).MoveToOuterDisposeScope();
    }

    /// <summary>MoD token types [B,T] int64 of inputIds [B,T]: image tokens compete, all others are text
    /// (see <see cref="ModTokenTypes"/>).</summary>
    public Tensor ModTokenTypesOf(Tensor inputIds) =>
        ModTokenTypes.FromInputIds(inputIds.to(Device), Config.ImageTokenId);

    /// <summary>The types the MoD layers get: the caller's, else derived from the ids; null without MoD layers.</summary>
    private Tensor? TokenTypesFor(Tensor inputIds, Tensor? tokenTypes)
    {
        if (!HasModLayers) return null;
        var types = tokenTypes is null ? ModTokenTypesOf(inputIds) : ModTokenTypes.From(tokenTypes.to(Device));
        if (!types.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException(
                $"token types have shape [{string.Join(",", types.shape)}], input ids [{string.Join(",", inputIds.shape)}].");
        return types;
    }

    /// <summary>Input embeddings [B,T,Dt]: token embeddings, with the image-token positions of each row replaced,
    /// in order, by that row's F image features. imageFeatures [B,F,Dt]; inputIds [B,T] with exactly F image
    /// tokens per row (see <see cref="ExpandImageTokens"/>).</summary>
    public Tensor EmbedInputs(Tensor imageFeatures, Tensor inputIds)
    {
        using var scope = torch.NewDisposeScope();
        var ids = inputIds.to(Device).to_type(ScalarType.Int64);                          // [B,T]
        long b = ids.shape[0], n = Config.ImageFeatures;
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
    public KvCache NewKvCache(long capacity = 0) => language_model.Model.NewKvCache(capacity);

    /// <summary>First step of incremental decoding: the left-padded prompts inputIds [B,T] (image tokens as in
    /// <see cref="ExpandImageTokens"/>) with attentionMask [B,T] (or null) go through the LM and fill the empty cache.
    /// imageFeatures [B,F,Dt]. Returns logits [B,T',V], or [B,1,V] of the last position when
    /// <paramref name="lastOnly"/>. Use under no_grad.</summary>
    public Tensor Prefill(Tensor imageFeatures, Tensor inputIds, Tensor? attentionMask, KvCache cache, bool lastOnly = false)
    {
        if (cache.Length != 0) throw new InvalidOperationException($"prefill needs an empty cache; it holds {cache.Length} positions.");
        using var scope = torch.NewDisposeScope();
        var (ids, mask) = ExpandImageTokens(inputIds, attentionMask);                     // [B,T']
        var embeds = EmbedInputs(imageFeatures, ids);                                     // [B,T',Dt]
        var types = TokenTypesFor(ids, null);                                             // [B,T'] or null
        return language_model.forward(embeds, mask, types, cache, lastOnly).MoveToOuterDisposeScope();
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
        var types = HasModLayers ? torch.full_like(ids, Scalars.Of(ModTokenTypes.Generated)) : null;
        return language_model.forward(embeds, null, types, cache).MoveToOuterDisposeScope(); // [B,T,V]
    }

    /// <summary>Upcycles the decoder to MoE in place (<see cref="MoeUpcycling.Upcycle"/>); returns this model.</summary>
    public VisionLanguageModel UpcycleToMoe(MoeConfig config)
    {
        MoeUpcycling.Upcycle(language_model, config);
        return this;
    }

    /// <summary>Converts the decoder to gamma-MoD in place (<see cref="ModConversion.Convert"/>); returns this model.</summary>
    public VisionLanguageModel ConvertToMod(ModConfig config)
    {
        ModConversion.Convert(language_model, config);
        return this;
    }

    /// <summary>The shared MoD router, or null without MoD layers.</summary>
    public ModRouter? ModRouter => ModLayers.FirstOrDefault()?.Router;

    /// <summary>Copies the vision tower weights from another model (same <see cref="VisionConfig"/>).</summary>
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
    public Tensor MoeAuxLoss() => MoeLoss.AuxLoss(language_model, Device);

    /// <summary>Sum of the MoD routing losses of the last forward over all MoD layers (scalar float32; 0 without MoD
    /// layers); the caller applies <see cref="ModConfig.RoutingLossCoefficient"/>.</summary>
    public Tensor ModRoutingLoss() => ModLoss.RoutingLoss(ModLayers, Device);

    /// <summary>The MoD layers of the decoder, in layer order (empty for a model without MoD).</summary>
    public IReadOnlyList<ModDecoderLayer> ModLayers => ModConversion.Layers(language_model.Model);

    /// <summary>Whether any decoder layer is a MoD layer.</summary>
    public bool HasModLayers => language_model.Config.Mod is { Layers.Length: > 0 };

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
            var (ids, mask) = ExpandImageTokens(inputIds, attentionMask);
            if (ids.shape[1] != inputIds.shape[1])
                throw new ArgumentException("attention maps are taken of sequences whose image tokens are expanded already.");
            var embeds = EmbedInputs(EncodeImages(pixels), ids);                           // [B,T,Dt]
            var types = TokenTypesFor(ids, tokenTypes);
            language_model.Model.forward(embeds, mask, types, null, capture);
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
