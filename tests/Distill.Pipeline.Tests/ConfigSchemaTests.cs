using Akka.Configuration;
using Akka.Configuration.Hocon;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Configuration.Declaration;

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
    public void Schema_follows_the_order_of_pipeline_conf()
    {
        var conf = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Cfg.HoconDir, "pipeline.conf")));
        Assert.Equal(Leaves(conf.Root, ""), ConfigSchema.Keys.Select(k => k.Path));
    }

    [Theory]
    [InlineData("D2dEpochs", "d2d-epochs")]
    [InlineData("TopP", "top-p")]
    [InlineData("MaxBatchBytes", "max-batch-bytes")]
    [InlineData("Seed", "seed")]
    public void Parameter_names_become_kebab_case_keys(string name, string key) => Assert.Equal(key, SettingsTree.Kebab(name));

    [Fact]
    public void Declarations_bind_each_kind_of_key()
    {
        var s = Cfg.Load("demo", null,
            "distill.cluster.teacher-wait = 90", "distill.teacher.store = \"~/teachers\"", "distill.mimic.scope = all",
            "distill.model.student.moe.placement = [1, 0]", "distill.cache.strict-order = off", "distill.preference.heldout-prompts = 7",
            "distill.cluster.coordinator.port = 2555", "distill.mimic.batch-size = 5").Settings;
        Assert.Equal(TimeSpan.FromSeconds(90), s.Cluster.TeacherWait);                       // seconds -> TimeSpan
        Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "teachers"), s.Teacher.Store); // ~/ expanded
        Assert.Equal(Distill.Stages.Distillation.TokenScope.All, s.Mimic.Scope);             // a word parsed by its type
        Assert.Equal([0, 1], s.Model.StudentMoe.Layers);                                     // sorted placement
        Assert.False(s.Cache.StrictOrder);                                                   // on / off flag
        Assert.Equal(7, s.Preference.HeldOutPrompts);                                        // renamed key
        Assert.Equal(2555, s.Cluster.CoordinatorPort);                                       // dotted key name
        Assert.Equal(5, s.Mimic.Optimiser.BatchSize);                                        // optimiser keys in the stage's section
        Assert.Null(s.Data.Llava);                                                           // no train file = Shapes
        Assert.Null(Cfg.Load("tiny", null, "distill.model.student.moe.placement = every-other").Settings.Model.StudentMoe.Layers);
    }

    [Fact]
    public void A_llava_dataset_binds_its_paths_absolute_and_empty_ones_null()
    {
        var values = new Dictionary<string, object>(Cfg.Load("tiny").Values)
        {
            ["distill.data.train"] = "data/train.json",
            ["distill.data.long-samples"] = "skip",
        };
        var llava = SettingsTree.Bind(values).Data.Llava!;
        Assert.Equal(Path.GetFullPath("data/train.json"), llava.Train);
        Assert.Null(llava.ImageFolder);
        Assert.True(llava.SkipLongSamples);
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
