using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Distill.Stages.Text;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill tokenizer encode --tokenizer DIR --strings FILE.json --out FILE.jsonl</c>: a Hugging Face
/// tokenizer folder (<see cref="HfTokenizer"/>) applied to a JSON array of strings, one line per string
/// <c>{"tokenizer", "text", "ids", "decoded"}</c>: ids with no BOS/EOS added, the decode with special tokens kept,
/// <c>tokenizer</c> the folder's name; laid out as Hugging Face's reference files (tests/fixtures/tokenizers) are, so
/// the two compare line for line. An existing --out file is never overwritten.</summary>
public static class TokenizerVerb
{
    public static Command Create(CliEnvironment env)
    {
        var tokenizer = new Option<string>("--tokenizer") { Description = "a folder with tokenizer.json (+ tokenizer_config.json)", HelpName = "DIR", Required = true };
        var strings = new Option<string>("--strings") { Description = "a JSON array of strings", HelpName = "FILE.json", Required = true };
        var output = new Option<string>("--out") { Description = "the JSONL file to write (must not exist)", HelpName = "FILE.jsonl", Required = true };
        var encode = new Command("encode", "Encode and decode strings with a Hugging Face tokenizer; one JSON line per string");
        encode.Add(tokenizer);
        encode.Add(strings);
        encode.Add(output);
        encode.SetAction(async (parse, _) =>
            await EncodeAsync(parse.GetValue(tokenizer)!, parse.GetValue(strings)!, parse.GetValue(output)!, env));
        var command = new Command("tokenizer", "Hugging Face tokenizers: 'tokenizer encode'");
        command.Add(encode);
        return command;
    }

    private static async Task<int> EncodeAsync(string tokenizerDir, string stringsFile, string outFile, CliEnvironment env)
    {
        var baseDir = Path.GetFullPath(env.WorkingDirectory ?? Directory.GetCurrentDirectory());
        tokenizerDir = Path.GetFullPath(tokenizerDir, baseDir);
        stringsFile = Path.GetFullPath(stringsFile, baseDir);
        outFile = Path.GetFullPath(outFile, baseDir);
        if (File.Exists(outFile) || Directory.Exists(outFile))
        {
            await env.Error.WriteLineAsync($"distill: {outFile} exists: refusing to overwrite it; give a new --out file");
            return ExitCodes.ConfigurationError;
        }
        HfTokenizer tokenizer;
        string[] texts;
        try
        {
            tokenizer = HfTokenizer.Load(tokenizerDir);
            texts = ReadStrings(stringsFile);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await env.Error.WriteLineAsync($"distill: {e.Message}");
            return ExitCodes.ConfigurationError;
        }

        var sb = new StringBuilder();
        foreach (var text in texts)
        {
            var ids = tokenizer.Encode(text);
            sb.Append("{\"tokenizer\": ").Append(Quote(tokenizer.Name))
              .Append(", \"text\": ").Append(Quote(text))
              .Append(", \"ids\": [").AppendJoin(", ", ids.Select(i => i.ToString(CultureInfo.InvariantCulture)))
              .Append("], \"decoded\": ").Append(Quote(tokenizer.Decode(ids))).Append("}\n");
        }
        try
        {
            await using var stream = new FileStream(outFile, FileMode.CreateNew, FileAccess.Write);
            await stream.WriteAsync(new UTF8Encoding(false).GetBytes(sb.ToString()));
        }
        catch (IOException e)
        {
            await env.Error.WriteLineAsync($"distill: cannot write {outFile}: {e.Message}");
            return ExitCodes.RunFailed;
        }
        await env.Out.WriteLineAsync($"distill: {texts.Length} string(s) encoded with {tokenizer.Name} ({tokenizer.VocabSize} ids) into {outFile}");
        return ExitCodes.Ok;
    }

    private static string[] ReadStrings(string file)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"strings file {file} not found", file);
        try
        {
            return JsonSerializer.Deserialize<string[]>(File.ReadAllBytes(file))
                ?? throw new InvalidDataException($"{file}: must be a JSON array of strings, found null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: must be a JSON array of strings ({e.Message})", e);
        }
    }

    /// <summary>A JSON string as Python's json.dumps(ensure_ascii=False) and JavaScript's JSON.stringify write it:
    /// quote, backslash and control characters escaped, everything else as it is.</summary>
    internal static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    bool lone = char.IsHighSurrogate(c) ? !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(s[i - 1]));
                    if (c < ' ' || lone) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
