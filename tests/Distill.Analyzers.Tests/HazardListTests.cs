using System.Reflection;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Distill.Analyzers.Tests;

/// <summary>The hazard list was generated from TorchSharp's sources of one version; it must name members of the
/// TorchSharp the code builds against (an upgrade that renames or re-signs them would silently disarm DST0003).</summary>
public sealed class HazardListTests
{
    [Fact]
    public void Every_listed_member_exists_in_the_referenced_TorchSharp()
    {
        var compilation = AnalyzerHarness.Compile("");
        var torchSharp = compilation.References
            .Select(compilation.GetAssemblyOrModuleSymbol).OfType<IAssemblySymbol>()
            .Single(a => a.Name == "TorchSharp");
        var missing = HazardIds().Where(id => DocumentationCommentId.GetFirstSymbolForDeclarationId(id, compilation) is not { } symbol
                                              || !SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, torchSharp))
            .ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} listed member(s) not in TorchSharp {torchSharp.Identity.Version}: {string.Join(", ", missing.Take(10))}");
    }

    [Fact]
    public void The_list_names_the_members_the_code_base_once_used()
    {
        var ids = HazardIds().ToHashSet();
        Assert.Contains("M:TorchSharp.torch.Tensor.op_Addition(TorchSharp.torch.Tensor,TorchSharp.torch.Tensor)", ids);
        Assert.Contains("M:TorchSharp.torch.Tensor.op_Multiply(TorchSharp.torch.Tensor,System.Double)", ids);
        Assert.Contains("M:TorchSharp.Modules.AdamW.step(System.Func{TorchSharp.torch.Tensor})", ids);
        Assert.Contains("M:TorchSharp.TensorExtensionMethods.ToSingle(TorchSharp.torch.Tensor)", ids);
        Assert.DoesNotContain("M:TorchSharp.torch.Tensor.add(TorchSharp.torch.Tensor,TorchSharp.Scalar)", ids); // explicit alpha: safe
    }

    private static IEnumerable<string> HazardIds()
    {
        var analyzer = typeof(Distill.Analyzers.NativeLifetimeAnalyzer).Assembly;
        using var stream = analyzer.GetManifestResourceStream("TorchSharpScalarHazards.tsv")!;
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
            if (line.Length > 0 && line[0] != '#') yield return line.Split('\t')[0];
    }
}
