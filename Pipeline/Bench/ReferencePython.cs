namespace Distill.Pipeline.Bench;

/// <summary>Where the Hugging Face reference python is (the hf-reference tool's <c>setup.sh</c> writes a
/// <c>python3</c> wrapper that provides transformers 4.40 and PyTorch): <c>--hf-python</c>, else
/// <c>$HF_REFERENCE_HOME/python3</c>, else <c>~/.cache/hf-reference/python3</c>.</summary>
public static class ReferencePython
{
    public const string HomeVariable = "HF_REFERENCE_HOME";

    /// <summary>The python to use and where it was looked for; Path is null when none was found.</summary>
    public static (string? Path, IReadOnlyList<string> Tried) Find(string? given)
    {
        var tried = new List<string>();
        if (!string.IsNullOrEmpty(given))
        {
            tried.Add(given);
            return (File.Exists(given) ? System.IO.Path.GetFullPath(given) : null, tried);
        }
        var home = Environment.GetEnvironmentVariable(HomeVariable);
        if (string.IsNullOrEmpty(home))
        {
            var user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            home = string.IsNullOrEmpty(user) ? null : System.IO.Path.Combine(user, ".cache", "hf-reference");
        }
        if (home is null) return (null, tried);
        var candidate = System.IO.Path.Combine(home, "python3");
        tried.Add(candidate);
        return (File.Exists(candidate) ? candidate : null, tried);
    }
}
