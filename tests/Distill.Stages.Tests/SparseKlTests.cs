using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Losses;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

public class SparseKlTests
{
    // Teacher p = [0.5, 0.3, 0.15, 0.05] over V = 4, K = 2: top ids [0, 1], tail mass 0.2.
    private static readonly float[] TeacherProbs = { 0.5f, 0.3f, 0.15f, 0.05f };

    private static Tensor TeacherLogits() => torch.tensor(TeacherProbs.Select(p => MathF.Log(p)).ToArray(), [1, 4]);

    [Fact]
    public void TeacherTargetsTakeTopKAndTheTail()
    {
        using var scope = torch.NewDisposeScope();
        using var targets = TeacherTargets.FromLogits(TeacherLogits().add(Scalars.Of(3f), Scalars.One), k: 2);   // shift: same distribution
        Assert.Equal(new long[] { 0, 1 }, targets.Ids.data<long>().ToArray());
        Assert.Equal(ScalarType.Int64, targets.Ids.dtype);
        var logprobs = targets.Logprobs.data<float>().ToArray();
        Assert.Equal(Math.Log(0.5), logprobs[0], 5);
        Assert.Equal(Math.Log(0.3), logprobs[1], 5);
        Assert.Equal(Math.Log(0.2), targets.TailLogprob.item<float>(), 5);
    }

    [Fact]
    public void TailStaysFiniteWhenTheTopKHoldAllTheMass()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 200, 0, 0, 0, 1, 2, 3, 4 }, [2, 4]);
        using var k1 = TeacherTargets.FromLogits(logits, 1);
        var tail = k1.TailLogprob.data<float>().ToArray();
        Assert.Equal(TeacherTargets.MinLogprob, tail[0]);              // 3 e^-200: below the floor
        // Row 2: mass outside token 3 is (e^1 + e^2 + e^3) / (e^1 + ... + e^4).
        var z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3) + Math.Exp(4);
        Assert.Equal(Math.Log((z - Math.Exp(4)) / z), tail[1], 5);
        using var kAll = TeacherTargets.FromLogits(logits, 4);         // nothing outside
        Assert.All(kAll.TailLogprob.data<float>().ToArray(), t => Assert.Equal(TeacherTargets.MinLogprob, t));
    }

    [Fact]
    public void KlMatchesTheHandComputedValue()
    {
        using var scope = torch.NewDisposeScope();
        using var targets = TeacherTargets.FromLogits(TeacherLogits(), 2);
        // Uniform student: 0.5 ln(0.5/0.25) + 0.3 ln(0.3/0.25) + 0.2 ln(0.2/0.5) = 0.2180119.
        var uniform = SparseKl.Forward(torch.zeros(1, 4), targets.Ids, targets.Logprobs, targets.TailLogprob);
        Assert.Equal(new long[] { 1 }, uniform.shape);
        Assert.Equal(0.2180119, uniform.item<float>(), 5);
        // Student logits [1, 2, 0, -1]: q = [0.2368828, 0.6439143, 0.0871443, 0.0320586];
        // 0.5 ln(0.5/q0) + 0.3 ln(0.3/q1) + 0.2 ln(0.2/(q2+q3)) = 0.2478843.
        var student = torch.tensor(new float[] { 1, 2, 0, -1 }, [1, 4]);
        var kl = SparseKl.Forward(student, targets.Ids, targets.Logprobs, targets.TailLogprob);
        Assert.Equal(0.2478843, kl.item<float>(), 5);
    }

    [Fact]
    public void TemperatureTempersBothBucketDistributionsAndIsNotScaledHere()
    {
        using var scope = torch.NewDisposeScope();
        using var targets = TeacherTargets.FromLogits(TeacherLogits(), 2);
        // T = 2 on the buckets: teacher [0.5, 0.3, 0.2]^(1/2) renormalised = [0.4154459, 0.3218030, 0.2627511];
        // student q = [0.2368828, 0.6439143, 0.1192029]^(1/2) renormalised = [0.2977877, 0.4909688, 0.2112435];
        // KL = 0.2388803 / T^2 = 0.0597201 (SparseKl does not apply T^2).
        var student = torch.tensor(new float[] { 1, 2, 0, -1 }, [1, 4]);
        var kl = SparseKl.Forward(student, targets.Ids, targets.Logprobs, targets.TailLogprob, temperature: 2.0);
        Assert.Equal(0.2388803 / 4, kl.item<float>(), 5);
    }

    [Fact]
    public void KlIsZeroForIdenticalDistributions()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var logits = torch.randn(5, 11) * Scalars.Of(3L);
        using var targets = TeacherTargets.FromLogits(logits, 4);
        var kl = SparseKl.Forward(logits, targets.Ids, targets.Logprobs, targets.TailLogprob);
        Assert.Equal(new long[] { 5 }, kl.shape);
        Assert.All(kl.data<float>().ToArray(), v => Assert.True(Math.Abs(v) < 1e-5, $"KL {v}"));
        // Half-precision cached log-probs (as in teacher/v2) still give ~0.
        var half = SparseKl.Forward(logits, targets.Ids, targets.Logprobs.to_type(ScalarType.Float16), targets.TailLogprob);
        Assert.All(half.data<float>().ToArray(), v => Assert.True(Math.Abs(v) < 2e-3, $"KL {v}"));
    }

    [Fact]
    public void WithOneTokenInTheTailItIsTheFullKlAndItsGradient()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(4);
        var teacher = torch.randn(3, 6);
        var student = torch.randn(3, 6).requires_grad_(true);
        using var targets = TeacherTargets.FromLogits(teacher, 5);     // K = V - 1: the tail is one token
        var kl = SparseKl.Forward(student, targets.Ids, targets.Logprobs, targets.TailLogprob);
        var p = teacher.softmax(-1);
        var full = (p * (p.log() - student.detach().log_softmax(-1))).sum(1);
        Assert.True((kl.detach() - full).abs().max().item<float>() < 1e-5f);

        kl.sum().backward();
        var grad = student.grad!;                                      // d KL / d s = softmax(s) - p
        var expected = student.detach().softmax(-1) - p;
        Assert.True((grad - expected).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void GradientsReachTheStudentEvenWhenTheTailIsEmpty()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var student = torch.randn(2, 5).requires_grad_(true);
        using var targets = TeacherTargets.FromLogits(torch.randn(2, 5), 5);
        var kl = SparseKl.Forward(student, targets.Ids, targets.Logprobs, targets.TailLogprob);
        kl.sum().backward();
        Assert.False(student.grad!.isnan().any().item<bool>());
        Assert.True(student.grad!.abs().sum().item<float>() > 1e-3f);
    }
}
