using System.Collections.Immutable;
using Distill.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Distill.Analyzers.Tests;

/// <summary>Compiles C# snippets against the framework, TorchSharp and Distill.Models, and runs the analyzer.</summary>
internal static class AnalyzerHarness
{
    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() =>
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return platform.Append(typeof(TorchSharp.torch).Assembly.Location).Append(typeof(Distill.Models.Torch.Scalars).Assembly.Location)
            .Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    });

    public static CSharpCompilation Compile(string body)
    {
        var source = $$"""
            using System;
            using Distill.Models.Torch;
            using TorchSharp;
            using TorchSharp.Modules;
            using static TorchSharp.torch;

            public static class Snippet
            {
                public static void Run(Tensor t, Tensor mask, Parameter[] parameters)
                {
            {{body}}
                }
            }
            """;
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source)], References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0) throw new InvalidOperationException("snippet does not compile: " + string.Join("; ", errors));
        return compilation;
    }

    /// <summary>The analyzer's diagnostics of <paramref name="body"/>: (id, the code it points at).</summary>
    public static IReadOnlyList<(string Id, string Code)> Diagnostics(string body)
    {
        var compilation = Compile(body);
        var diagnostics = compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NativeLifetimeAnalyzer()))
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return diagnostics.OrderBy(d => d.Location.SourceSpan.Start)
            .Select(d => (d.Id, d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan))).ToList();
    }
}
