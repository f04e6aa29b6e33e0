using System.Xml.Linq;
using Xunit;

namespace Distill.Analyzers.Tests;

/// <summary>The analyzer guards every product project that calls TorchSharp (Directory.Build.targets adds it where
/// <c>DistillNativeLifetimeChecks</c> is true).</summary>
public sealed class WiringTests
{
    [Theory]
    [InlineData("Models/Distill.Models.csproj")]
    [InlineData("Stages/Distill.Stages.csproj")]
    [InlineData("Actors/Distill.Actors.csproj")]
    [InlineData("Pipeline/Distill.Pipeline.csproj")]
    public void Product_projects_opt_in_to_the_lifetime_rules(string project)
    {
        var xml = XDocument.Load(Path.Combine(RepositoryRoot(), project));
        Assert.Contains(xml.Descendants("DistillNativeLifetimeChecks"), e => e.Value.Trim() == "true");
    }

    [Fact]
    public void Directory_build_targets_adds_the_analyzer_to_those_projects()
    {
        var xml = XDocument.Load(Path.Combine(RepositoryRoot(), "Directory.Build.targets"));
        var reference = Assert.Single(xml.Descendants("ProjectReference"),
            e => ((string?)e.Attribute("Include"))?.EndsWith("build/Analyzers/Distill.Analyzers.csproj", StringComparison.Ordinal) == true);
        Assert.Equal("Analyzer", (string?)reference.Attribute("OutputItemType"));
        Assert.Contains("DistillNativeLifetimeChecks", (string?)reference.Parent!.Attribute("Condition"));
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
