using Distill.Models.Config;

namespace Distill.Stages.Students;

/// <summary>The training curriculum of a student (DESIGN 5.2), shared by the distilled student (<c>mimic</c>) and
/// the SFT-only baseline (<c>sft</c>) so both get the same architecture and budget: optional projector warm-up
/// (<see cref="ProjectorWarmupEpochs"/>, 0 = off), a dense phase (<see cref="DenseEpochs"/>), then, when
/// <see cref="Moe"/> is set, sparse upcycling to MoE and an MoE phase (<see cref="MoeEpochs"/>).</summary>
public sealed record StudentSchedule(int ProjectorWarmupEpochs, int DenseEpochs, int MoeEpochs, MoeConfig? Moe)
{
    public bool UpcyclesToMoe => Moe is not null;

    /// <summary>The same curriculum with every phase <paramref name="factor"/> times as long.</summary>
    public StudentSchedule Times(int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        return this with { ProjectorWarmupEpochs = ProjectorWarmupEpochs * factor, DenseEpochs = DenseEpochs * factor, MoeEpochs = MoeEpochs * factor };
    }

    /// <summary>Throws an ArgumentException naming the inconsistent field.</summary>
    public StudentSchedule Validate()
    {
        if (ProjectorWarmupEpochs < 0 || DenseEpochs < 0 || MoeEpochs < 0)
            throw new ArgumentException($"epochs must not be negative: warm-up {ProjectorWarmupEpochs}, dense {DenseEpochs}, MoE {MoeEpochs}");
        if (Moe is null && MoeEpochs > 0)
            throw new ArgumentException($"{MoeEpochs} MoE epoch(s) need an MoE configuration (upcycling is off)");
        if (DenseEpochs + MoeEpochs == 0)
            throw new ArgumentException("the schedule trains for no epoch (dense and MoE epochs are both 0)");
        return this;
    }
}
