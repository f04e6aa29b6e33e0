// Lists the public TorchSharp members that make a temporary Scalar (or Tensor) from a number and hand it to another
// call inside TorchSharp, where nothing keeps it alive during the native call (see build/Analyzers). Reads
// TorchSharp's C# sources, binds them with Roslyn against the running framework's reference assemblies, and prints
// "<documentation id>\t<why>" lines, sorted. A member is listed when its body
//   - converts a number to Scalar or Tensor implicitly and hands the result to a call or an operator, or
//   - hands a ToScalar() result straight to a call or reads its Handle,
//   - calls a member that does (transitively), or
//   - creates (constructor or static factory) a type that overrides a virtual member with such a body (AdamW.step):
//     a call through the base type (Optimizer.step) cannot be seen at the call site.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: TorchSharpScan <TorchSharp/src/TorchSharp folder>");
    return 2;
}
var options = new CSharpParseOptions(LanguageVersion.Latest, preprocessorSymbols: ["NET6_0_OR_GREATER", "NET8_0_OR_GREATER"]);
var trees = Directory.GetFiles(args[0], "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
    .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), options, Path.GetRelativePath(args[0], f))).ToList();
var frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
var references = Directory.GetFiles(frameworkDir, "*.dll").Where(IsManaged).Select(p => MetadataReference.CreateFromFile(p));
var compilation = CSharpCompilation.Create("TorchSharp", trees, references,
    new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
var scalar = compilation.GetTypeByMetadataName("TorchSharp.Scalar") ?? throw new InvalidOperationException("no TorchSharp.Scalar in the sources");
var tensor = compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor") ?? throw new InvalidOperationException("no torch.Tensor in the sources");
var comparer = SymbolEqualityComparer.Default;

var why = new Dictionary<IMethodSymbol, string>(comparer);
var callers = new Dictionary<IMethodSymbol, HashSet<IMethodSymbol>>(comparer);
foreach (var tree in trees)
{
    var model = compilation.GetSemanticModel(tree);
    foreach (var body in tree.GetRoot().DescendantNodes().Where(n => n is BaseMethodDeclarationSyntax or AccessorDeclarationSyntax))
    {
        if (model.GetDeclaredSymbol(body) is not IMethodSymbol member || model.GetOperation(body) is not { } root) continue;
        foreach (var op in root.DescendantsAndSelf())
        {
            string Where() => $"{tree.FilePath}:{op.Syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1}";
            switch (op)
            {
                case IConversionOperation { OperatorMethod: { Name: "op_Implicit" } conversion } c
                    when member.Name != "op_Implicit" && c.Operand.Type is { SpecialType: not SpecialType.None }
                         && (comparer.Equals(conversion.ContainingType, scalar) || comparer.Equals(conversion.ContainingType, tensor))
                         && IsHandedOn(c):
                    why.TryAdd(member, $"implicit {c.Operand.Type} -> {conversion.ContainingType.Name} at {Where()}");
                    break;
                case IInvocationOperation { TargetMethod: { Name: "ToScalar" } target } call
                    when comparer.Equals(target.ReturnType, scalar) && IsHandedOn(call):
                    why.TryAdd(member, $"temporary ToScalar() at {Where()}");
                    break;
            }
            var callee = op switch
            {
                IInvocationOperation i => i.TargetMethod,
                IBinaryOperation b => b.OperatorMethod,
                IUnaryOperation u => u.OperatorMethod,
                IObjectCreationOperation o => o.Constructor,
                _ => null,
            };
            if (callee is null) continue;
            if (!callers.TryGetValue(callee.OriginalDefinition, out var set)) callers[callee.OriginalDefinition] = set = new(comparer);
            set.Add(member);
        }
    }
}

// Callers of a hazardous member are hazardous.
var queue = new Queue<IMethodSymbol>(why.Keys);
while (queue.Count > 0)
{
    var hazard = queue.Dequeue();
    if (!callers.TryGetValue(hazard.OriginalDefinition, out var set)) continue;
    foreach (var caller in set)
        if (why.TryAdd(caller, "calls " + hazard.ToDisplayString())) queue.Enqueue(caller);
}

// Types with a hazardous override: their constructors and static factories.
var overrides = why.Keys.Where(m => m.IsOverride).GroupBy(m => m.ContainingType, comparer).ToList();
foreach (var tree in trees)
{
    var model = compilation.GetSemanticModel(tree);
    foreach (var declaration in tree.GetRoot().DescendantNodes().OfType<BaseMethodDeclarationSyntax>())
    {
        if (model.GetDeclaredSymbol(declaration) is not IMethodSymbol member) continue;
        foreach (var group in overrides)
        {
            var type = (INamedTypeSymbol)group.Key!;
            var creates = member.MethodKind == MethodKind.Constructor
                ? comparer.Equals(member.ContainingType, type)
                : member.IsStatic && comparer.Equals(member.ReturnType, type);
            if (creates)
                why.TryAdd(member, $"creates {type.Name}, whose {string.Join(", ", group.Select(m => m.Name + "()"))} makes temporary Scalars");
        }
    }
}

foreach (var line in why.Where(p => IsPublic(p.Key))
             .Select(p => $"{p.Key.OriginalDefinition.GetDocumentationCommentId()}\t{p.Value}").Distinct().Order(StringComparer.Ordinal))
    Console.WriteLine(line);
return 0;

// The value goes straight into another call (argument, operand, receiver) rather than into a local or a return.
static bool IsHandedOn(IOperation operation)
{
    var parent = operation.Parent;
    while (parent is IConversionOperation or IParenthesizedOperation) parent = parent.Parent;
    return parent is IArgumentOperation or IBinaryOperation or ICompoundAssignmentOperation or IInvocationOperation
        or IPropertyReferenceOperation;
}

static bool IsPublic(ISymbol symbol)
{
    for (var s = symbol; s is not null and not INamespaceSymbol; s = s.ContainingSymbol)
        if (s.DeclaredAccessibility != Accessibility.Public) return false;
    return true;
}

static bool IsManaged(string path)
{
    try { System.Reflection.AssemblyName.GetAssemblyName(path); return true; }
    catch (BadImageFormatException) { return false; }
}
