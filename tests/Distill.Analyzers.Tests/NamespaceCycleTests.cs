using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace Distill.Analyzers.Tests;

/// <summary>The namespaces of a product project form no cycle (DESIGN: one concept per namespace, dependencies one
/// way). A file's namespace depends on another when it names a type declared there that it can see: through a using,
/// a qualified name, or because the other is an enclosing namespace (C# makes the types of enclosing namespaces visible
/// without a using, which is how such cycles hide).</summary>
public class NamespaceCycleTests
{
    private sealed record SourceFile(string Path, string Namespace, IReadOnlyList<string> Usings, IReadOnlyList<string> Names, IReadOnlyList<string> Qualified);

    [Theory]
    [InlineData("Models")]
    public void No_namespace_of_a_project_depends_on_itself_through_others(string project)
    {
        var files = Directory.EnumerateFiles(Path.Combine(WiringTests.RepositoryRoot(), project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(Parse).Where(f => f is not null).Select(f => f!).ToList();
        Assert.True(files.Count > 20, $"only {files.Count} source files found in {project}");

        var declaredIn = new Dictionary<string, HashSet<string>>(); // type name -> namespaces declaring it
        foreach (var file in files)
            foreach (var type in Declared(file.Path))
                (declaredIn.TryGetValue(type, out var set) ? set : declaredIn[type] = []).Add(file.Namespace);
        var namespaces = files.Select(f => f.Namespace).ToHashSet();

        var edges = new Dictionary<string, HashSet<string>>();
        var why = new Dictionary<(string, string), string>();
        foreach (var file in files)
        {
            var visible = file.Usings.Concat(Enclosing(file.Namespace)).Where(namespaces.Contains).ToHashSet();
            var targets = new HashSet<string>();
            foreach (var name in file.Names)
            {
                if (!declaredIn.TryGetValue(name, out var owners) || owners.Contains(file.Namespace)) continue;
                foreach (var owner in owners.Where(visible.Contains))
                {
                    targets.Add(owner);
                    why.TryAdd((file.Namespace, owner), $"{Path.GetRelativePath(WiringTests.RepositoryRoot(), file.Path)} names {name}");
                }
            }
            foreach (var qualified in file.Qualified)
            {
                var owner = namespaces.Where(n => qualified.StartsWith(n + ".", StringComparison.Ordinal)).OrderByDescending(n => n.Length).FirstOrDefault();
                if (owner is null || owner == file.Namespace) continue;
                targets.Add(owner);
                why.TryAdd((file.Namespace, owner), $"{Path.GetRelativePath(WiringTests.RepositoryRoot(), file.Path)} names {qualified}");
            }
            (edges.TryGetValue(file.Namespace, out var set) ? set : edges[file.Namespace] = []).UnionWith(targets);
        }

        var cycles = StronglyConnected(namespaces, edges).Where(c => c.Count > 1).ToList();
        Assert.True(cycles.Count == 0, string.Join("\n", cycles.Select(c =>
            "cycle: " + string.Join(", ", c.Order()) + "\n  " + string.Join("\n  ",
                c.SelectMany(a => edges[a].Where(c.Contains).Select(b => $"{a} -> {b}: {why[(a, b)]}"))))));
    }

    [Fact]
    public void The_check_sees_a_cycle_through_an_enclosing_namespace()
    {
        // Distill.X.Y uses a type of Distill.X without a using (visible as an enclosing namespace), Distill.X uses Y.
        var edges = new Dictionary<string, HashSet<string>> { ["Distill.X"] = ["Distill.X.Y"], ["Distill.X.Y"] = ["Distill.X"] };
        Assert.Single(StronglyConnected(["Distill.X", "Distill.X.Y", "Distill.Z"], edges), c => c.Count == 2);
        Assert.Equal(["Distill.X", "Distill"], Enclosing("Distill.X.Y"));
    }

    private static SourceFile? Parse(string path)
    {
        var root = CSharpSyntaxTree.ParseText(File.ReadAllText(path), path: path).GetCompilationUnitRoot();
        var ns = root.DescendantNodes().OfType<BaseNamespaceDeclarationSyntax>().FirstOrDefault()?.Name.ToString();
        if (ns is null) return null; // top-level statements
        var usings = root.Usings.Concat(root.DescendantNodes().OfType<BaseNamespaceDeclarationSyntax>().SelectMany(n => n.Usings))
            .Where(u => u.Alias is null).Select(u => u.Name!.ToString()).ToList();
        var names = root.DescendantNodes().OfType<SimpleNameSyntax>().Select(n => n.Identifier.ValueText).Distinct().ToList();
        var qualified = root.DescendantNodes().Where(n => n is QualifiedNameSyntax or MemberAccessExpressionSyntax)
            .Where(n => n.Parent is not (QualifiedNameSyntax or MemberAccessExpressionSyntax or BaseNamespaceDeclarationSyntax) && n.Ancestors().OfType<UsingDirectiveSyntax>().FirstOrDefault() is null)
            .Select(n => n.ToString()).Where(t => t.StartsWith("Distill.", StringComparison.Ordinal)).Distinct().ToList();
        return new SourceFile(path, ns, usings, names, qualified);
    }

    private static IEnumerable<string> Declared(string path) =>
        CSharpSyntaxTree.ParseText(File.ReadAllText(path)).GetCompilationUnitRoot().DescendantNodes()
            .OfType<BaseTypeDeclarationSyntax>().Where(t => t.Parent is BaseNamespaceDeclarationSyntax or CompilationUnitSyntax)
            .Select(t => t.Identifier.ValueText)
            .Concat(CSharpSyntaxTree.ParseText(File.ReadAllText(path)).GetCompilationUnitRoot().DescendantNodes()
                .OfType<DelegateDeclarationSyntax>().Select(d => d.Identifier.ValueText));

    private static List<string> Enclosing(string ns)
    {
        var result = new List<string>();
        for (var i = ns.LastIndexOf('.'); i > 0; i = ns.LastIndexOf('.', i - 1)) result.Add(ns[..i]);
        return result;
    }

    /// <summary>Tarjan's strongly connected components.</summary>
    private static List<List<string>> StronglyConnected(IEnumerable<string> nodes, Dictionary<string, HashSet<string>> edges)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in edges.GetValueOrDefault(v, []))
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            result.Add(component);
        }
        foreach (var n in nodes) if (!index.ContainsKey(n)) Visit(n);
        return result;
    }
}
