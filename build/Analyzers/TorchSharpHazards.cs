using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.CodeAnalysis;

namespace Distill.Analyzers;

/// <summary>The TorchSharp members that make a temporary Scalar (or Tensor) from a number inside TorchSharp and
/// hand it to a native call: documentation-comment id -> where in TorchSharp's sources. The list
/// (<c>TorchSharpScalarHazards.tsv</c>) is generated from TorchSharp's sources by build/TorchSharpScan for the
/// version in Directory.Packages.props; regenerate it when TorchSharp is upgraded.</summary>
internal sealed class TorchSharpHazards
{
    private static TorchSharpHazards? _loaded;
    private readonly Dictionary<string, string> _where;

    private TorchSharpHazards(Dictionary<string, string> where) => _where = where;

    public static TorchSharpHazards Load()
    {
        if (_loaded is { } loaded) return loaded;
        var where = new Dictionary<string, string>(StringComparer.Ordinal);
        using var stream = typeof(TorchSharpHazards).Assembly.GetManifestResourceStream("TorchSharpScalarHazards.tsv")
            ?? throw new InvalidOperationException("TorchSharpScalarHazards.tsv is not embedded in the analyzer");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var tab = line.IndexOf('\t');
            if (tab < 0) where[line] = "TorchSharp";
            else where[line.Substring(0, tab)] = line.Substring(tab + 1);
        }
        return _loaded = new TorchSharpHazards(where);
    }

    public bool TryGet(string documentationId, out string where) => _where.TryGetValue(documentationId, out where!);

    /// <summary>What to write instead, by the kind of member.</summary>
    public static string Remedy(IMethodSymbol method)
    {
        switch (method.Name)
        {
            case "op_Addition" when method.Parameters.Length == 2 && IsTensor(method.Parameters[0].Type) && IsTensor(method.Parameters[1].Type):
            case "add" when method.Parameters.Length == 1 && IsTensor(method.Parameters[0].Type):
            case "add_" when method.Parameters.Length == 1 && IsTensor(method.Parameters[0].Type):
                return "write a.add(b, Scalars.One) (the one-argument add passes alpha = 1 as a temporary Scalar)";
            case "add" or "add_" or "op_Addition" or "op_Subtraction":
                return "write x.add(Scalars.Of(v), Scalars.One) / x.sub(Scalars.Of(v)) (TorchSharp adds a Scalar with a temporary alpha = 1)";
            case "op_Multiply" or "op_Division" or "op_Modulus":
                return "give the number as a Scalar that outlives the call: x * Scalars.Of(v), x / Scalars.Of(v)";
            case "arange":
                return "call torch.arange(start, stop, step, ...) with all three as explicit Scalars";
            case "square":
                return "write x * x or x.pow(Scalars.Of(2))";
            case "step":
            case "AdamW" or "Adam" or "SGD" or "Adagrad" or "Adadelta" or "Adamax" or "ASGD" or "NAdam" or "RAdam" or "RMSProp" or "Rprop":
            case ".ctor" when method.ContainingType.BaseType?.Name is "OptimizerHelper" or "Optimizer":
                return "use Distill.Stages.Training.AdamW, which keeps its Scalars alive";
            case "op_Explicit":
            case var name when name.StartsWith("To", StringComparison.Ordinal):
                return "read the value with Scalars.ToDouble / ToSingle / ToInt64 / ToBoolean (the Scalar is disposed after the read)";
            default:
                return "call an overload that takes explicit Scalars, or write the operation with Scalars that outlive the call";
        }
    }

    private static bool IsTensor(ITypeSymbol type) => type.ToDisplayString() == "TorchSharp.torch.Tensor";
}
