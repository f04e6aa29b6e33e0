using Distill.Models.Torch;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace Distill.Analyzers.Tests;

public sealed class NativeLifetimeAnalyzerTests
{
    [Theory]
    [InlineData("t.mul(2.0);", "DST0001", "2.0")]                                      // implicit double -> Scalar
    [InlineData("t.index_add(0, mask, t, 1.0);", "DST0001", "1.0")]                     // the demo's crash
    [InlineData("t.clamp_min(0);", "DST0001", "0")]
    [InlineData("var n = 5L; t.lt(n);", "DST0001", "n")]
    [InlineData("t.mul(0.5.ToScalar());", "DST0001", "0.5.ToScalar()")]                 // explicit, but a temporary
    [InlineData("var x = t.ToScalar().ToDouble();", "DST0001", "t.ToScalar()")]
    [InlineData("torch.where(mask, t, 0.0f);", "DST0002", "0.0f")]                       // implicit float -> Tensor
    [InlineData("var y = t * 2.0;", "DST0003", "t * 2.0")]                               // operator converts inside TorchSharp
    [InlineData("var y = t + t;", "DST0003", "t + t")]                                   // alpha = 1 made inside TorchSharp
    [InlineData("t.add(t);", "DST0003", "t.add(t)")]
    [InlineData("var y = t; y += t;", "DST0003", "y += t")]
    [InlineData("var y = t.square();", "DST0003", "t.square()")]
    [InlineData("var v = t.ToSingle();", "DST0003", "t.ToSingle()")]
    [InlineData("var r = torch.arange(10);", "DST0003", "torch.arange(10)")]
    [InlineData("var o = torch.optim.AdamW(parameters);", "DST0003", "torch.optim.AdamW(parameters)")] // step() is hazardous
    public void Reports_a_number_handed_to_a_native_call_as_a_temporary(string code, string id, string at)
    {
        var diagnostics = AnalyzerHarness.Diagnostics(code);
        Assert.Contains((id, at), diagnostics);
    }

    [Theory]
    [InlineData("t.mul(Scalars.Of(2.0));")]
    [InlineData("var y = t * Scalars.Of(2.0);")]
    [InlineData("t.index_add(0, mask, t, Scalars.One);")]
    [InlineData("var y = t.add(t, Scalars.One);")]
    [InlineData("using var s = 2.0.ToScalar(); t.mul(s);")]                               // a local that outlives the call
    [InlineData("Scalar s = Scalars.Of(3L); t.lt(s);")]
    [InlineData("var y = t - t; var z = t * t; var w = t / t;")]                           // tensor-tensor: no Scalar
    [InlineData("var r = Scalars.Arange(10); var v = Scalars.ToDouble(t.sum());")]
    [InlineData("var y = t.pow(Scalars.Of(2L)).mean([-1L], keepdim: true);")]
    public void Accepts_Scalars_that_outlive_the_call(string code)
    {
        Assert.Empty(AnalyzerHarness.Diagnostics(code));
    }

    [Fact]
    public async Task The_message_says_where_TorchSharp_makes_the_temporary_and_what_to_write()
    {
        var compilation = AnalyzerHarness.Compile("var y = t + t;");
        var diagnostic = Assert.Single(await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NativeLifetimeAnalyzer()))
            .GetAnalyzerDiagnosticsAsync());
        var message = diagnostic.GetMessage();
        Assert.Contains("calls TorchSharp.torch.Tensor.add(TorchSharp.torch.Tensor)", message);
        Assert.Contains("a.add(b, Scalars.One)", message);
        Assert.Equal(Microsoft.CodeAnalysis.DiagnosticSeverity.Error, diagnostic.Severity);
    }
}
