using System.Globalization;
using static Distill.Pipeline.Reporting.RunFigures;

namespace Distill.Pipeline.Reporting;

/// <summary>One target of the run: what it asks, the measured figure, and whether it is met (null: a figure it needs
/// was not measured, e.g. the stage did not run).</summary>
public sealed record TargetCheck(string Name, string Goal, string Figure, bool? Met)
{
    public string Verdict => Met switch { true => "met", false => "missed", null => "not measured" };
}

/// <summary>The targets the pipeline is held to on the demo preset (issue 14): the teacher worth distilling, the
/// distilled MoE student against its SFT-only twin and the teacher, what preference distillation must do to
/// hallucination, what the MoD conversion must save, and the wall time. Checked on a run's <see cref="RunFigures"/>
/// or on a study's mean over seeds. The MoD and preference students are compared with their inputs: preference with
/// the student it continues (moe, else dense), mod with the newest of preference, moe, dense.</summary>
public static class Targets
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public const double TeacherOverSft = 0.10;
    public const double MoeOverSft = 0.05;
    public const double MoeShareOfTeacher = 0.90;
    public const double MoeActivatedShare = 0.35;
    public const double ChairReduction = 0.25;
    public const double PreferenceVqaDrop = 0.01;
    public const double ModFlopsCut = 0.40;
    public const double ModPrefillCut = 0.35;
    public const double ModAccuracyDrop = 0.015;
    public static readonly TimeSpan WallLimit = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan StoredTeacherWallLimit = TimeSpan.FromMinutes(10);

    public static IReadOnlyList<TargetCheck> Check(IReadOnlyDictionary<string, double> f)
    {
        double? Get(string key) => f.TryGetValue(key, out var v) && double.IsFinite(v) ? v : null;
        bool Has(string model) => Get(Overall(model)) is not null;
        var preferenceInput = Has("moe") ? "moe" : "dense";
        var modInput = new[] { "preference", "moe", "dense" }.FirstOrDefault(Has) ?? "moe";
        var checks = new List<TargetCheck>();

        void Points(string name, string goal, string a, string b, double atLeast)
        {
            var (x, y) = (Get(Overall(a)), Get(Overall(b)));
            checks.Add(x is null || y is null
                ? Missing(name, goal, x is null ? a : b)
                : new(name, goal, $"{a} {Pct(x.Value)}%, {b} {Pct(y.Value)}%: {PointsText(x.Value - y.Value)}", x.Value - y.Value >= atLeast - 1e-12));
        }
        Points("teacher over sft", $"teacher at least {Pct(TeacherOverSft)} points above the SFT-only student", "teacher", "sft", TeacherOverSft);
        Points("moe over sft", $"distilled MoE student at least {Pct(MoeOverSft)} points above the SFT-only student", "moe", "sft", MoeOverSft);

        var (moe, teacher) = (Get(Overall("moe")), Get(Overall("teacher")));
        var shareGoal = $"MoE student at least {Pct(MoeShareOfTeacher)}% of the teacher's accuracy";
        checks.Add(moe is null || teacher is null
            ? Missing("moe share of teacher", shareGoal, Overall(moe is null ? "moe" : "teacher"))
            : new("moe share of teacher", shareGoal,
                teacher.Value > 0 ? $"{Pct(moe.Value / teacher.Value)}% ({Pct(moe.Value)}% of {Pct(teacher.Value)}%)" : $"{Pct(moe.Value)}% against a teacher at 0%",
                moe.Value >= teacher.Value * MoeShareOfTeacher - 1e-12));

        var (moeActive, teacherActive) = (Get(Activated("moe")), Get(Activated("teacher")));
        checks.Add(moeActive is null || teacherActive is null || teacherActive == 0
            ? Missing("moe activated parameters", $"at most {Pct(MoeActivatedShare)}% of the teacher's activated parameters", Activated(moeActive is null ? "moe" : "teacher"))
            : new("moe activated parameters", $"at most {Pct(MoeActivatedShare)}% of the teacher's activated parameters",
                $"{Pct(moeActive.Value / teacherActive.Value)}% ({Millions(moeActive.Value)} of {Millions(teacherActive.Value)})", moeActive.Value / teacherActive.Value <= MoeActivatedShare + 1e-12));

        var (prefChair, inputChair, teacherChair) = (Get(ChairI("preference")), Get(ChairI(preferenceInput)), Get(ChairI("teacher")));
        var chairGoal = $"after preference, CHAIR_i at least {Pct(ChairReduction)}% lower than {preferenceInput}'s";
        checks.Add(prefChair is null || inputChair is null
            ? Missing("preference CHAIR_i", chairGoal, ChairI(prefChair is null ? "preference" : preferenceInput))
            : new("preference CHAIR_i", chairGoal,
                $"{Pct(prefChair.Value)}% against {Pct(inputChair.Value)}%: {Relative(prefChair.Value, inputChair.Value)}",
                prefChair.Value <= inputChair.Value * (1 - ChairReduction) + 1e-12));
        checks.Add(prefChair is null || teacherChair is null
            ? Missing("preference CHAIR_i below teacher", "after preference, CHAIR_i below the teacher's", ChairI(prefChair is null ? "preference" : "teacher"))
            : new("preference CHAIR_i below teacher", "after preference, CHAIR_i below the teacher's",
                $"{Pct(prefChair.Value)}% against the teacher's {Pct(teacherChair.Value)}%", prefChair.Value < teacherChair.Value));

        var settings = f.Keys.Where(k => k.StartsWith("preference.pope_", StringComparison.Ordinal) && k.EndsWith("_f1", StringComparison.Ordinal))
            .Select(k => k["preference.pope_".Length..^"_f1".Length]).Order(StringComparer.Ordinal).ToList();
        var popeGoal = $"after preference, POPE F1 not lower than {preferenceInput}'s in any setting";
        if (settings.Count == 0 || settings.Any(s => Get(PopeF1(preferenceInput, s)) is null))
            checks.Add(Missing("preference POPE F1", popeGoal, settings.Count == 0 ? PopeF1("preference", "*") : PopeF1(preferenceInput, "*")));
        else
            checks.Add(new("preference POPE F1", popeGoal,
                string.Join(", ", settings.Select(s => $"{s} {Pct(Get(PopeF1("preference", s))!.Value)} vs {Pct(Get(PopeF1(preferenceInput, s))!.Value)}")),
                settings.All(s => Get(PopeF1("preference", s))!.Value >= Get(PopeF1(preferenceInput, s))!.Value - 1e-12)));
        Points("preference VQA", $"after preference, VQA accuracy at most {Pct(PreferenceVqaDrop)} point lower than {preferenceInput}'s", "preference", preferenceInput, -PreferenceVqaDrop);

        var (layers, converted) = (Get(ModLayers), Get(ModLayersConverted));
        checks.Add(layers is null || converted is null
            ? Missing("mod layers converted", "at least half the decoder layers converted to MoD", ModLayersConverted)
            : new("mod layers converted", "at least half the decoder layers converted to MoD",
                $"{Number(converted.Value)} of {Number(layers.Value)}", converted.Value >= layers.Value / 2 - 1e-12));
        void Cut(string name, string goal, Func<string, string> key, double cut)
        {
            var (after, before) = (Get(key("mod")), Get(key(modInput)));
            checks.Add(after is null || before is null || before == 0
                ? Missing(name, goal, key(after is null ? "mod" : modInput))
                : new(name, goal, $"{Number(after.Value)} against {modInput}'s {Number(before.Value)}: {Relative(after.Value, before.Value)}",
                    after.Value <= before.Value * (1 - cut) + 1e-9));
        }
        Cut("mod decoder FLOPs", $"decoder FLOPs per test sample {Pct(ModFlopsCut)}% or more below {modInput}'s", DecoderFlops, ModFlopsCut);
        Cut("mod prefill batch 1", $"prefill latency at batch 1 {Pct(ModPrefillCut)}% or more below {modInput}'s (ms)", PrefillMs, ModPrefillCut);
        Cut("mod prefill eval batch", $"prefill latency at the eval batch {Pct(ModPrefillCut)}% or more below {modInput}'s (ms)", BatchPrefillMs, ModPrefillCut);
        var (modTps, inputTps) = (Get(TokensPerSecond("mod")), Get(TokensPerSecond(modInput)));
        checks.Add(modTps is null || inputTps is null
            ? Missing("mod generation speed", $"generation tokens/s at batch 1 not lower than {modInput}'s", TokensPerSecond(modTps is null ? "mod" : modInput))
            : new("mod generation speed", $"generation tokens/s at batch 1 not lower than {modInput}'s",
                $"{modTps.Value.ToString("0", Inv)} against {inputTps.Value.ToString("0", Inv)} tokens/s", modTps.Value >= inputTps.Value));
        Points("mod accuracy", $"MoD student's accuracy at most {Pct(ModAccuracyDrop)} points below {modInput}'s", "mod", modInput, -ModAccuracyDrop);

        var wall = Get(WallSeconds);
        var stored = Get(TeacherFromStore) == 1;
        var limit = stored ? StoredTeacherWallLimit : WallLimit;
        var wallGoal = $"the whole run in at most {limit.TotalMinutes.ToString(Inv)} minutes{(stored ? " (teacher from the store)" : "")}";
        checks.Add(wall is null
            ? Missing("wall time", wallGoal, WallSeconds)
            : new("wall time", wallGoal, ReportWriter.Duration(TimeSpan.FromSeconds(wall.Value)), wall.Value <= limit.TotalSeconds));
        return checks;
    }

    private static TargetCheck Missing(string name, string goal, string key) => new(name, goal, $"no {key}", null);

    private static string Pct(double fraction) => (fraction * 100).ToString("0.0", Inv);
    private static string PointsText(double diff) => (diff * 100).ToString("+0.0;-0.0;0.0", Inv) + " points";
    private static string Relative(double after, double before) => before == 0 ? "–" : ((after / before - 1) * 100).ToString("+0.0;-0.0;0.0", Inv) + "%";
    private static string Millions(double n) => ReportWriter.Params((long)Math.Round(n));
    private static string Number(double v) => ReportWriter.Number(v);
}
