using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Distill.Analyzers;

/// <summary>Finds TorchSharp objects whose native memory the garbage collector may free while a native call still
/// reads it. A <c>TorchSharp.Scalar</c> (or <c>Tensor</c>) made from a number on the fly is referenced by nothing
/// once its handle has been read, so a collection during the P/Invoke may finalize it and libtorch reads freed
/// memory ("INTERNAL ASSERT FAILED at c10/core/Scalar.h", "Unknown scalar type"; dotnet/TorchSharp pull requests
/// 1434 and 1496). Three rules, all errors:
/// <list type="bullet">
/// <item>DST0001: a number converted to a Scalar implicitly, or a <c>ToScalar()</c> result handed straight to a call;</item>
/// <item>DST0002: a number converted to a Tensor implicitly;</item>
/// <item>DST0003: a TorchSharp member that does one of those inside TorchSharp (the list in
/// <c>TorchSharpScalarHazards.tsv</c>, found by scanning TorchSharp 0.107's sources; see build/TorchSharpScan).</item>
/// </list>
/// The fix is a Scalar that outlives the call: <c>Distill.Models.Torch.Scalars.Of(v)</c> (cached for the process) or a
/// local in a <c>using</c>.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NativeLifetimeAnalyzer : DiagnosticAnalyzer
{
    private const string Category = "NativeLifetime";

    public static readonly DiagnosticDescriptor ImplicitScalar = new(
        "DST0001",
        "A temporary TorchSharp Scalar is handed to a native call",
        "{0} becomes a TorchSharp Scalar that nothing keeps alive during the native call, so the GC may free it while libtorch reads it: pass Scalars.Of(...) or a Scalar held by a using",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ImplicitTensor = new(
        "DST0002",
        "A number is converted to a TorchSharp Tensor implicitly",
        "{0} becomes a TorchSharp Tensor by implicit conversion, which the GC may free during the native call: create it explicitly (torch.tensor) inside a dispose scope, or use an overload that takes a Scalar",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor HazardousMember = new(
        "DST0003",
        "A TorchSharp member makes a temporary Scalar internally",
        "{0} makes a temporary Scalar inside TorchSharp ({1}) that the GC may free during the native call: {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(ImplicitScalar, ImplicitTensor, HazardousMember);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            var tensor = start.Compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
            if (scalar is null || tensor is null) return; // no TorchSharp in this compilation
            var hazards = TorchSharpHazards.Load();
            start.RegisterOperationAction(c => Conversion(c, (IConversionOperation)c.Operation, scalar, tensor, hazards), OperationKind.Conversion);
            start.RegisterOperationAction(c => Invocation(c, (IInvocationOperation)c.Operation, scalar, hazards), OperationKind.Invocation);
            start.RegisterOperationAction(c => Member(c, ((IBinaryOperation)c.Operation).OperatorMethod, hazards), OperationKind.Binary);
            start.RegisterOperationAction(c => Member(c, ((ICompoundAssignmentOperation)c.Operation).OperatorMethod, hazards), OperationKind.CompoundAssignment);
            start.RegisterOperationAction(c => Member(c, ((IUnaryOperation)c.Operation).OperatorMethod, hazards), OperationKind.Unary);
            start.RegisterOperationAction(c => Member(c, ((IObjectCreationOperation)c.Operation).Constructor, hazards), OperationKind.ObjectCreation);
        });
    }

    private static void Conversion(OperationAnalysisContext context, IConversionOperation conversion, INamedTypeSymbol scalar,
        INamedTypeSymbol tensor, TorchSharpHazards hazards)
    {
        if (conversion.OperatorMethod is not { } method) return;
        if (method.Name == "op_Implicit" && conversion.Operand.Type is { } from && IsNumber(from))
        {
            if (SymbolEqualityComparer.Default.Equals(method.ContainingType, scalar))
                context.ReportDiagnostic(Diagnostic.Create(ImplicitScalar, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
            else if (SymbolEqualityComparer.Default.Equals(method.ContainingType, tensor))
                context.ReportDiagnostic(Diagnostic.Create(ImplicitTensor, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
            return;
        }
        Member(context, method, hazards);
    }

    private static void Invocation(OperationAnalysisContext context, IInvocationOperation invocation, INamedTypeSymbol scalar,
        TorchSharpHazards hazards)
    {
        var method = invocation.TargetMethod;
        if (method.Name == "ToScalar" && SymbolEqualityComparer.Default.Equals(method.ReturnType, scalar) && IsHandedOn(invocation))
        {
            context.ReportDiagnostic(Diagnostic.Create(ImplicitScalar, invocation.Syntax.GetLocation(), invocation.Syntax.ToString()));
            return;
        }
        Member(context, method, hazards);
    }

    private static void Member(OperationAnalysisContext context, IMethodSymbol? method, TorchSharpHazards hazards)
    {
        if (method is null) return;
        var id = method.OriginalDefinition.GetDocumentationCommentId();
        if (id is null || !hazards.TryGet(id, out var where)) return;
        context.ReportDiagnostic(Diagnostic.Create(HazardousMember, context.Operation.Syntax.GetLocation(),
            method.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat), where, TorchSharpHazards.Remedy(method)));
    }

    /// <summary>True when the value goes straight into another call (as an argument, an operand or a receiver)
    /// instead of into a local that outlives the call.</summary>
    private static bool IsHandedOn(IOperation operation)
    {
        var parent = operation.Parent;
        while (parent is IConversionOperation or IParenthesizedOperation) parent = parent.Parent;
        return parent is IArgumentOperation or IBinaryOperation or ICompoundAssignmentOperation
            or IInvocationOperation or IPropertyReferenceOperation;
    }

    private static bool IsNumber(ITypeSymbol type) => type.SpecialType is SpecialType.System_Byte or SpecialType.System_SByte
        or SpecialType.System_Int16 or SpecialType.System_UInt16 or SpecialType.System_Int32 or SpecialType.System_UInt32
        or SpecialType.System_Int64 or SpecialType.System_UInt64 or SpecialType.System_Single or SpecialType.System_Double
        or SpecialType.System_Boolean
        || type.ToDisplayString() is "System.Half" or "TorchSharp.BFloat16" or "System.Numerics.Complex" or "(float, float)";
}
