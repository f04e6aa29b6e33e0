using Akka.Configuration;
using Akka.Configuration.Hocon;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Tests;

public class ConfigSchemaTests
{
    private static IEnumerable<string> Leaves(HoconValue v, string path) =>
        v.IsObject()
            ? v.GetObject().Items.SelectMany(kv => Leaves(kv.Value, path.Length == 0 ? kv.Key : path + "." + kv.Key))
            : [path];

    [Fact]
    public void Schema_and_pipeline_conf_list_the_same_keys()
    {
        var conf = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Cfg.HoconDir, "pipeline.conf")));
        var inFile = Leaves(conf.Root, "").ToHashSet();
        var inSchema = ConfigSchema.Keys.Select(k => k.Path).ToHashSet();
        Assert.Empty(inFile.Except(inSchema));   // keys in pipeline.conf the schema does not know
        Assert.Empty(inSchema.Except(inFile));   // schema keys without a default
        Assert.Equal(ConfigSchema.Keys.Count, inSchema.Count); // no duplicate paths
    }

    [Fact]
    public void Binder_reads_every_schema_key()
    {
        var binder = new SettingsBinder(Cfg.Load().Values);
        binder.Bind();
        Assert.Equal(ConfigSchema.Keys.Select(k => k.Path).Order(), binder.Read.Order());
    }

    [Fact]
    public void Sections_and_children_follow_the_keys()
    {
        Assert.True(ConfigSchema.IsSection("distill.model.vision"));
        Assert.False(ConfigSchema.IsSection("distill.seed"));
        Assert.Equal(["vision", "teacher", "student", "rope-theta", "max-positions"], ConfigSchema.ChildrenOf("distill.model"));
    }

    [Theory]
    [InlineData("epoch", "epochs", 1)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    public void Levenshtein_distance(string a, string b, int d) => Assert.Equal(d, ConfigLoader.Levenshtein(a, b));
}
