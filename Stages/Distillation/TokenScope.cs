namespace Distill.Stages.Distillation;

/// <summary>Which positions the distillation loss (and the teacher's cached targets) cover.</summary>
public enum TokenScope
{
    /// <summary>Positions that predict a response token (labels_mask of the next token is true).</summary>
    Response,
    /// <summary>Every position that predicts a real next token.</summary>
    All,
}

public static class TokenScopes
{
    public static readonly IReadOnlyList<string> Names = ["response", "all"];

    public static TokenScope Parse(string value) => value switch
    {
        "response" => TokenScope.Response,
        "all" => TokenScope.All,
        _ => throw new ArgumentException($"token scope '{value}' is not allowed; allowed: response, all"),
    };

    public static string Name(this TokenScope scope) => scope == TokenScope.Response ? "response" : "all";
}
