using Distill.Stages.Students;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The students' labelled share of the training split (<c>distill.data.labelled-images</c>) and the
/// distillation split of labelled samples plus the prompt-only pool, on a Shapes dataset of 40 training scenes with 5
/// questions each.</summary>
public sealed class LabelledSplitTests : IClassFixture<ShapesDatasetFixture>
{
    private readonly ShapesDatasetFixture _data;
    private readonly WordTokenizer _tokenizer;

    public LabelledSplitTests(ShapesDatasetFixture data)
    {
        _data = data;
        _tokenizer = WordTokenizer.Build(ShapesCorpus.FromSplit(data.Dir, "train"));
    }

    private ShapesData Data(int? labelledImages) => new(_data.Dir, _tokenizer, 32, 4) { LabelledImages = labelledImages };

    [Fact]
    public void The_labelled_split_holds_every_sample_of_the_first_images_in_order()
    {
        var data = Data(10);
        var train = data.Samples("train");
        var firstImages = train.Select(s => s.Image).Distinct().Take(10).ToHashSet();
        var expected = train.Where(s => firstImages.Contains(s.Image)).Select(s => s.Id).ToList();

        var labelled = data.Samples(PreparedData.LabelledSplit);
        Assert.Equal(expected, labelled.Select(s => s.Id).ToList());
        Assert.Equal(10, labelled.Select(s => s.Image).Distinct().Count());
        Assert.Equal(expected, data.Rows(PreparedData.LabelledSplit).Select(r => r.SampleId).ToList());
        Assert.Equal((expected.Count, train.Count), data.LabelledCounts);
        Assert.Equal(50, expected.Count); // 10 scenes x 5 questions
        Assert.Equal(200, train.Count);
    }

    [Fact]
    public void The_distill_split_is_all_of_train_with_the_pool_as_prompts_only()
    {
        var data = Data(10);
        var train = data.Rows("train");
        var distill = data.Rows(PreparedData.DistillSplit);
        var labelled = data.Rows(PreparedData.LabelledSplit).Select(r => r.SampleId).ToHashSet();

        Assert.Equal(train.Select(r => r.SampleId), distill.Select(r => r.SampleId));
        Assert.Equal(data.Samples("train").Select(s => s.Id), data.Samples(PreparedData.DistillSplit).Select(s => s.Id));
        for (int i = 0; i < train.Count; i++)
        {
            if (labelled.Contains(train[i].SampleId))
            {
                Assert.Same(train[i], distill[i]);
                continue;
            }
            Assert.True(distill[i].IsPromptOnly);
            Assert.Null(distill[i].Answer);
            Assert.Equal(train[i].Prompt(), distill[i].InputIds);
            Assert.True(distill[i].InputIds.Length < train[i].InputIds.Length);
            Assert.Equal(train[i].Image, distill[i].Image);
        }
        Assert.Equal(150, distill.Count(r => r.IsPromptOnly));
    }

    [Fact]
    public void Without_a_labelled_share_both_splits_are_train_itself()
    {
        var data = Data(null);
        Assert.Same(data.Rows("train"), data.Rows(PreparedData.DistillSplit));
        Assert.Same(data.Rows("train"), data.Rows(PreparedData.LabelledSplit));
        Assert.Equal((200, 200), data.LabelledCounts);
        Assert.Equal(1, SftStudent.BudgetFactor(data));
    }

    [Fact]
    public void More_labelled_images_than_the_split_has_is_an_error_naming_the_key()
    {
        var e = Assert.Throws<InvalidDataException>(() => Data(41).LabelledCounts);
        Assert.Contains("distill.data.labelled-images = 41", e.Message);
        Assert.Contains("has 40 images", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Data(0));
    }

    [Theory]
    [InlineData(10, 4)]  // 200 / 50
    [InlineData(15, 3)]  // 200 / 75 = 2.67
    [InlineData(40, 1)]
    public void The_sft_budget_factor_gives_as_many_optimiser_steps_as_the_whole_split(int images, int factor) =>
        Assert.Equal(factor, SftStudent.BudgetFactor(Data(images)));

    [Fact]
    public void A_schedule_times_a_factor_lengthens_every_phase()
    {
        var schedule = new StudentSchedule(1, 2, 3, null).Times(4);
        Assert.Equal(new StudentSchedule(4, 8, 12, null), schedule);
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.Times(0));
    }
}
