using System.Text.RegularExpressions;

namespace Distill.Stages.Cache;

/// <summary>What a stage's teacher batches depend on, and so what identifies its cache: the teacher, the tokenizer,
/// the batch schema (<c>teacher/v2</c>, <c>preference/v1</c>, ...; null = whatever the first part declares), the
/// dataset and a hash of the teacher-side configuration (top-K, scope, shard size, ...). The directory of a stage's
/// cache is <c>&lt;root&gt;/&lt;teacher&gt;/&lt;stage&gt;/&lt;data[..16]&gt;-&lt;config[..16]&gt;</c>.</summary>
public sealed partial record CacheKey(string TeacherFingerprint, string TokenizerHash, string? Schema, string DataFingerprint,
    string ConfigHash)
{
    /// <summary>The last folder of the layout: <c>&lt;data-fingerprint&gt;-&lt;config-hash&gt;</c>, each cut to 16 characters.</summary>
    public string Folder => $"{Short(DataFingerprint)}-{Short(ConfigHash)}";

    /// <summary>The directory of <paramref name="stage"/>'s cache under <paramref name="root"/>.</summary>
    public string DirectoryUnder(string root, string stage)
    {
        Validate(stage);
        return Path.Combine(Path.GetFullPath(root), TeacherFingerprint, stage, Folder);
    }

    /// <summary>Throws <see cref="ArgumentException"/> when a part of the layout is empty or not a safe folder name.</summary>
    public void Validate(string stage)
    {
        Check(nameof(TeacherFingerprint), TeacherFingerprint);
        Check(nameof(DataFingerprint), DataFingerprint);
        Check(nameof(ConfigHash), ConfigHash);
        Check("stage", stage);
        if (string.IsNullOrEmpty(TokenizerHash)) throw new ArgumentException("cache key: TokenizerHash is empty");
    }

    private static void Check(string what, string value)
    {
        if (string.IsNullOrEmpty(value) || !SafeName().IsMatch(value))
            throw new ArgumentException($"cache key: {what} '{value}' must be letters, digits, '-', '_' or '.', not starting with '.' (it names a folder)");
    }

    private static string Short(string s) => s.Length <= 16 ? s : s[..16];

    [GeneratedRegex(@"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$")]
    private static partial Regex SafeName();
}
