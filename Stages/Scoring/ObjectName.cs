namespace Distill.Stages.Scoring;

/// <summary>A Shapes object as a caption names it: colour and shape ("blue square").</summary>
public readonly record struct ObjectName(string Colour, string Shape)
{
    public override string ToString() => $"{Colour} {Shape}";
}
