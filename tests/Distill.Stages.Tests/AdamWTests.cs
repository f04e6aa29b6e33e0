using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using AdamW = Distill.Stages.Training.AdamW;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>Distill's AdamW against TorchSharp's (the reference: the arithmetic of torch.optim.AdamW).</summary>
public sealed class AdamWTests
{
    [Fact]
    public void Steps_match_torchs_AdamW_in_two_groups_with_a_parameter_that_gets_no_gradient()
    {
        torch.manual_seed(3);
        var ours = new[] { torch.randn(4, 3), torch.randn(5), torch.randn(2, 2) }.Select(t => new Parameter(t)).ToArray();
        var reference = ours.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var adamW = new AdamW([new AdamW.Group([ours[0], ours[1]], 0.01, 0.1), new AdamW.Group([ours[2]], 0.05, 0.0)],
            beta1: 0.8, beta2: 0.99, eps: 1e-6);
#pragma warning disable DST0003 // TorchSharp's own AdamW is the reference implementation under test, kept as it is
        using var torchAdamW = torch.optim.AdamW(new[]
        {
            new TorchSharp.Modules.AdamW.ParamGroup([reference[0], reference[1]], lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.1),
            new TorchSharp.Modules.AdamW.ParamGroup([reference[2]], lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.0),
        }, lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6);
#pragma warning restore DST0003

        using var initialLast = ours[2].detach().clone();
        for (var step = 0; step < 6; step++)
        {
            torch.manual_seed(100 + step);
            var target = torch.randn(4, 3);
            // Parameter 2 gets its first gradient at step 3: until then AdamW skips it and its step count stays 0.
            Backward(ours, target, step >= 3);
            Backward(reference, target, step >= 3);
            adamW.Step();
#pragma warning disable DST0003 // TorchSharp's own AdamW is the reference implementation under test, kept as it is
            torchAdamW.step();
#pragma warning restore DST0003
            if (step == 4) { adamW.Groups[0].LearningRate = 0.002; torchAdamW.ParamGroups.First().LearningRate = 0.002; }
            for (var i = 0; i < ours.Length; i++)
                Assert.True(torch.allclose(ours[i], reference[i], rtol: 0, atol: 1e-7),
                    $"step {step}, parameter {i}: max |diff| {(ours[i] - reference[i]).abs().max().item<float>()}");
            Assert.Equal(step < 3, torch.equal(ours[2], initialLast).all().item<bool>()); // untouched until its first gradient
        }
    }

    [Fact]
    public void Saved_moments_and_step_counts_continue_exactly()
    {
        torch.manual_seed(5);
        using var first = new Parameter(torch.randn(3, 3));
        using var second = new Parameter(first.detach().clone());
        using var a = new AdamW([new AdamW.Group([first], 0.01, 0.01)]);
        using var b = new AdamW([new AdamW.Group([second], 0.01, 0.01)]);
        for (var step = 0; step < 3; step++) { Backward([first], null, true); a.Step(); }
        using var state = new MemoryStream();
        using (var writer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true)) a.Save(writer);
        using (var noGrad = torch.no_grad()) second.copy_(first);
        state.Position = 0;
        using (var reader = new BinaryReader(state)) b.Load(reader);
        Backward([first], null, true); a.Step();
        Backward([second], null, true); b.Step();
        Assert.True(torch.allclose(first, second, rtol: 0, atol: 0));
    }

    [Fact]
    public void A_state_of_another_format_or_size_is_refused()
    {
        using var p = new Parameter(torch.zeros(2));
        using var q = new Parameter(torch.zeros(2));
        using var one = new AdamW([new AdamW.Group([p], 0.01, 0)]);
        using var two = new AdamW([new AdamW.Group([p, q], 0.01, 0)]);
        using var saved = new MemoryStream();
        using (var writer = new BinaryWriter(saved, System.Text.Encoding.UTF8, leaveOpen: true)) one.Save(writer);
        saved.Position = 0;
        var wrongCount = Assert.Throws<InvalidDataException>(() => two.Load(new BinaryReader(saved)));
        Assert.Contains("1 parameters, this optimiser has 2", wrongCount.Message);
        var garbage = Assert.Throws<InvalidDataException>(() => one.Load(new BinaryReader(new MemoryStream([1, 2, 3]))));
        Assert.Contains("distill-adamw/v2", garbage.Message);
    }

    [Fact]
    public void A_bfloat16_parameter_is_updated_through_a_float32_master_copy()
    {
        // Gradient 1 on every step: Adam's bias-corrected m / sqrt(v) is 1, so each step moves the weight by lr = 1e-4.
        // bfloat16 has 8 significant bits: its spacing below 1 is 2^-8 = 0.0039, so 1 - 1e-4 rounds back to 1 and a
        // bfloat16-only update never moves; through the master, 100 steps reach 0.99, stored as the nearest bfloat16,
        // 253/256 = 0.98828125 (254/256 = 0.9921875 is further).
        using var weight = new Parameter(torch.ones(2, dtype: ScalarType.BFloat16));
        using var adamW = new AdamW([new AdamW.Group([weight], 1e-4, 0.0)]);
        for (var step = 0; step < 100; step++) ConstantGradient(weight);
        Assert.Equal(ScalarType.BFloat16, weight.dtype);
        using var asFloat = weight.detach().to_type(ScalarType.Float32);
        Assert.Equal([0.98828125f, 0.98828125f], asFloat.data<float>().ToArray());

        void ConstantGradient(Parameter p)
        {
            using var scope = torch.NewDisposeScope();
            using (var grad = p.grad) grad?.zero_();
            p.sum().backward();
            adamW.Step();
        }
    }

    [Fact]
    public void Master_copies_are_saved_and_a_state_of_the_other_dtype_is_refused()
    {
        using var first = new Parameter(torch.ones(3, dtype: ScalarType.BFloat16));
        using var second = new Parameter(torch.ones(3, dtype: ScalarType.BFloat16));
        using var a = new AdamW([new AdamW.Group([first], 1e-4, 0.0)]);
        using var b = new AdamW([new AdamW.Group([second], 1e-4, 0.0)]);
        for (var step = 0; step < 30; step++) Step(first, a);
        using var state = new MemoryStream();
        using (var writer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true)) a.Save(writer);
        state.Position = 0;
        using (var reader = new BinaryReader(state, System.Text.Encoding.UTF8, leaveOpen: true)) b.Load(reader);
        // second's own weights are still 1: only the loaded master (0.997) makes its next steps equal first's.
        for (var step = 0; step < 70; step++) { Step(first, a); Step(second, b); }
        Assert.True(torch.equal(first, second).all().item<bool>());
        using var asFloat = second.detach().to_type(ScalarType.Float32);
        Assert.Equal(0.98828125f, asFloat.data<float>()[0]);

        using var float32 = new Parameter(torch.ones(3));
        using var c = new AdamW([new AdamW.Group([float32], 1e-4, 0.0)]);
        state.Position = 0;
        var refused = Assert.Throws<InvalidDataException>(() => c.Load(new BinaryReader(state)));
        Assert.Contains("master copy", refused.Message);

        static void Step(Parameter p, AdamW optimizer)
        {
            using var scope = torch.NewDisposeScope();
            using (var grad = p.grad) grad?.zero_();
            p.sum().backward();
            optimizer.Step();
        }
    }

    /// <summary>loss = sum((p0 - target)^2) + sum(p1^3) (+ sum(p2 * 2) when <paramref name="withLast"/>).</summary>
    private static void Backward(Parameter[] parameters, Tensor? target, bool withLast)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var p in parameters) { using var grad = p.grad; grad?.zero_(); }
        var loss = (parameters[0] - (target ?? torch.ones_like(parameters[0]))).pow(Scalars.Of(2L)).sum();
        if (parameters.Length > 1) loss = loss.add(parameters[1].pow(Scalars.Of(3L)).sum(), Scalars.One);
        if (parameters.Length > 2 && withLast) loss = loss.add((parameters[2] * Scalars.Of(2L)).sum(), Scalars.One);
        loss.backward();
    }
}
