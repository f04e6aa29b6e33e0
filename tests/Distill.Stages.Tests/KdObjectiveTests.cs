using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Losses;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>The distillation divergences over the top-K + tail buckets against hand-computed values. Teacher
/// p = [0.5, 0.3, 0.15, 0.05], K = 2: buckets [0.5, 0.3, 0.2]. Student logits [1, 2, 0, -1]:
/// q = [0.2368828, 0.6439143, 0.0871443, 0.0320586], buckets [0.2368828, 0.6439143, 0.1192029].</summary>
public class KdObjectiveTests
{
    private static Tensor TeacherLogits() => torch.tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }.Select(p => MathF.Log(p)).ToArray(), [1, 4]);
    private static Tensor Student() => torch.tensor(new float[] { 1, 2, 0, -1 }, [1, 4]);

    private static float Loss(KdObjective objective, Tensor student)
    {
        using var targets = TeacherTargets.FromLogits(TeacherLogits(), 2);
        return objective.PerPosition(student, targets.Ids, targets.Logprobs, targets.TailLogprob).item<float>();
    }

    [Theory]
    // sum_b p_b ln(p_b / q_b)
    [InlineData(Divergence.ForwardKl, 0.5, 1.0, 0.2478843)]
    // sum_b q_b ln(q_b / p_b) = 0.2368828 ln(0.2368828/0.5) + 0.6439143 ln(0.6439143/0.3) + 0.1192029 ln(0.1192029/0.2)
    [InlineData(Divergence.ReverseKl, 0.5, 1.0, 0.2531630)]
    // M = (p + q) / 2 = [0.3684414, 0.4719571, 0.1596015]; (KL(p||M) + KL(q||M)) / 2
    [InlineData(Divergence.Jsd, 0.5, 1.0, 0.0612420)]
    // M = 0.3 p + 0.7 q; 0.3 KL(p||M) + 0.7 KL(q||M)
    [InlineData(Divergence.Jsd, 0.3, 1.0, 0.0514121)]
    // T = 2: buckets tempered to p^(1/2), q^(1/2) renormalised (see the temperature test of SparseKl), times T^2 = 4
    [InlineData(Divergence.ForwardKl, 0.5, 2.0, 0.2388803)]
    [InlineData(Divergence.ReverseKl, 0.5, 2.0, 0.2486325)]
    [InlineData(Divergence.Jsd, 0.5, 2.0, 0.0605746)]
    // T = 0.5: p^2, q^2 renormalised, times 0.25
    [InlineData(Divergence.ForwardKl, 0.5, 0.5, 0.2434938)]
    [InlineData(Divergence.ReverseKl, 0.5, 0.5, 0.2147437)]
    public void MatchesTheHandComputedValue(Divergence divergence, double beta, double temperature, double expected)
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(expected, Loss(new KdObjective(divergence, beta, temperature), Student()), 5);
    }

    [Fact]
    public void UniformStudentAgainstTheBuckets()
    {
        using var scope = torch.NewDisposeScope();
        // Student buckets [0.25, 0.25, 0.5].
        Assert.Equal(0.2180119, Loss(new KdObjective(Divergence.ForwardKl), torch.zeros(1, 4)), 5);
        Assert.Equal(0.2392782, Loss(new KdObjective(Divergence.ReverseKl), torch.zeros(1, 4)), 5);
        Assert.Equal(0.0555825, Loss(new KdObjective(Divergence.Jsd, 0.5), torch.zeros(1, 4)), 5);
    }

    [Theory]
    [InlineData(Divergence.ForwardKl, 1.0)]
    [InlineData(Divergence.ReverseKl, 1.0)]
    [InlineData(Divergence.Jsd, 1.0)]
    [InlineData(Divergence.ForwardKl, 3.0)]
    [InlineData(Divergence.ReverseKl, 0.5)]
    [InlineData(Divergence.Jsd, 2.0)]
    public void IsZeroForIdenticalDistributions(Divergence divergence, double temperature)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var logits = torch.randn(5, 11) * Scalars.Of(3L);
        using var targets = TeacherTargets.FromLogits(logits, 4);
        var loss = new KdObjective(divergence, 0.3, temperature).PerPosition(logits, targets.Ids, targets.Logprobs, targets.TailLogprob);
        Assert.Equal(new long[] { 5 }, loss.shape);
        Assert.All(loss.data<float>().ToArray(), v => Assert.True(Math.Abs(v) < 1e-5, $"{divergence} at T={temperature}: {v}"));
    }

    [Fact]
    public void JsdAtOneHalfIsSymmetric()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(6);
        var a = torch.randn(4, 7).log_softmax(-1);
        var b = torch.randn(4, 7).log_softmax(-1);
        var ab = SparseJsd.Of(a, b, 0.5).data<float>().ToArray();
        var ba = SparseJsd.Of(b, a, 0.5).data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(ab[i], ba[i], 6);
        Assert.All(ab, v => Assert.InRange(v, 1e-4f, (float)Math.Log(2)));
        // Not symmetric for another beta: JSD_beta(a, b) = JSD_(1-beta)(b, a).
        var a3b = SparseJsd.Of(a, b, 0.3).data<float>().ToArray();
        var b7a = SparseJsd.Of(b, a, 0.7).data<float>().ToArray();
        var b3a = SparseJsd.Of(b, a, 0.3).data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(a3b[i], b7a[i], 6);
        Assert.Contains(Enumerable.Range(0, 4), i => Math.Abs(a3b[i] - b3a[i]) > 1e-4);
    }

    [Theory]
    [InlineData(Divergence.ReverseKl)]
    [InlineData(Divergence.Jsd)]
    public void WithOneTokenInTheTailItIsTheFullDivergenceWithItsGradient(Divergence divergence)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(4);
        var teacher = torch.randn(3, 6);
        var student = torch.randn(3, 6).requires_grad_(true);
        using var targets = TeacherTargets.FromLogits(teacher, 5);     // K = V - 1: buckets = the vocabulary
        var sparse = new KdObjective(divergence, 0.5).PerPosition(student, targets.Ids, targets.Logprobs, targets.TailLogprob);
        var logP = teacher.log_softmax(-1);
        var fullStudent = student.log_softmax(-1);
        var full = divergence == Divergence.ReverseKl ? SparseKl.Of(fullStudent, logP) : SparseJsd.Of(logP, fullStudent, 0.5);
        Assert.True((sparse.detach() - full.detach()).abs().max().item<float>() < 1e-5f);

        var gradSparse = torch.autograd.grad([sparse.sum()], [student])[0];
        var gradFull = torch.autograd.grad([full.sum()], [student])[0];
        Assert.True((gradSparse - gradFull).abs().max().item<float>() < 1e-5f);
        Assert.True(gradSparse.abs().sum().item<float>() > 1e-3f);
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentOutOfRangeException>(() => Loss(new KdObjective(Divergence.Jsd, 1.0), Student()));
        Assert.Throws<ArgumentOutOfRangeException>(() => Loss(new KdObjective(Temperature: 0), Student()));
        Assert.Equal(["forward-kl", "reverse-kl", "jsd"], Enum.GetValues<Divergence>().Select(d => d.Name()));
        Assert.Equal(Divergence.Jsd, Divergences.Parse("jsd"));
        Assert.Contains("forward-kl, reverse-kl, jsd", Assert.Throws<ArgumentException>(() => Divergences.Parse("kl")).Message);
    }
}
