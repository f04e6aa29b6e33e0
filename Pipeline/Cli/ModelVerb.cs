using System.CommandLine;
using Distill.Models.Checkpoints;
using Distill.Models.IO;
using Distill.Models.Reference;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill model logits|info</c>: a Hugging Face model directory checked by hand.
/// <c>logits --model DIR --inputs IN.safetensors --out OUT.safetensors [--generate N] [--force]</c> writes what the model
/// computes for the inputs (<see cref="ReferenceRun"/>: the same files transformers' reference tool reads and writes);
/// <c>info DIR</c> prints the architecture, sizes and parameter counts (also for a directory with only config.json).
/// A bad model directory or input is exit code 2 with the reason; an existing --out is refused unless --force.</summary>
public static class ModelVerb
{
    public static Command Create(CliEnvironment env)
    {
        var model = new Command("model", "Inspect a Hugging Face model directory: 'model logits', 'model info'");
        model.Add(Logits(env));
        model.Add(Info(env));
        return model;
    }

    private static Command Logits(CliEnvironment env)
    {
        var dir = new Option<string>("--model") { Description = "model directory (config.json + model.safetensors or a sharded index)", HelpName = "DIR", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors with input_ids int64 [B,T], optional attention_mask, pixel_values float32 [B,3,H,W]", HelpName = "IN", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors to write: logits, input_ids, generated_ids", HelpName = "OUT", Required = true };
        var generate = new Option<int>("--generate") { Description = "also greedy-generate this many new tokens (generated_ids)", HelpName = "N" };
        var force = new Option<bool>("--force") { Description = "replace --out if it exists" };
        var command = new Command("logits", "Logits (and greedy tokens) of a model directory for given inputs");
        command.Add(dir);
        command.Add(inputs);
        command.Add(output);
        command.Add(generate);
        command.Add(force);
        command.SetAction(async (parse, _) =>
        {
            var baseDir = Path.GetFullPath(env.WorkingDirectory ?? Directory.GetCurrentDirectory());
            var modelDir = Path.GetFullPath(parse.GetValue(dir)!, baseDir);
            var inputPath = Path.GetFullPath(parse.GetValue(inputs)!, baseDir);
            var outPath = Path.GetFullPath(parse.GetValue(output)!, baseDir);
            if (File.Exists(outPath) && !parse.GetValue(force))
            {
                await env.Error.WriteLineAsync($"distill: {outPath} exists; give --force to replace it (nothing was run)");
                return ExitCodes.ConfigurationError;
            }
            if (parse.GetValue(generate) < 0)
            {
                await env.Error.WriteLineAsync("distill: --generate must not be negative");
                return ExitCodes.ConfigurationError;
            }
            try
            {
                if (!File.Exists(inputPath)) throw new FileNotFoundException($"{inputPath}: the inputs file does not exist", inputPath);
                var given = SafeTensors.Read(inputPath);
                Dictionary<string, TorchSharp.torch.Tensor> result;
                try
                {
                    result = ReferenceRun.Run(modelDir, given, parse.GetValue(generate));
                }
                catch (InvalidDataException e) when (!e.Message.StartsWith(modelDir, StringComparison.Ordinal) && !e.Message.Contains(".json", StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"{inputPath}: {e.Message}", e);
                }
                finally
                {
                    foreach (var t in given.Values) t.Dispose();
                }
                SafeTensors.Write(outPath, result.Select(kv => (kv.Key, kv.Value)), new Dictionary<string, string> { ["format"] = "pt" });
                var logits = result["logits"];
                var line = $"distill: logits [{string.Join(",", logits.shape)}]" +
                           (result.TryGetValue("generated_ids", out var g) ? $", generated_ids [{string.Join(",", g.shape)}]" : "") + $" -> {outPath}";
                foreach (var t in result.Values) t.Dispose();
                await env.Out.WriteLineAsync(line);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or NotSupportedException)
            {
                await env.Error.WriteLineAsync($"distill: {e.Message}");
                return ExitCodes.ConfigurationError;
            }
        });
        return command;
    }

    private static Command Info(CliEnvironment env)
    {
        var dir = new Argument<string>("DIR") { Description = "model directory (config.json; weights optional)" };
        var command = new Command("info", "Architecture, sizes and parameter counts of a model directory");
        command.Add(dir);
        command.SetAction(async (parse, _) =>
        {
            var baseDir = Path.GetFullPath(env.WorkingDirectory ?? Directory.GetCurrentDirectory());
            try
            {
                foreach (var line in ModelSummary.Describe(Path.GetFullPath(parse.GetValue(dir)!, baseDir)))
                    await env.Out.WriteLineAsync(line);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                await env.Error.WriteLineAsync($"distill: {e.Message}");
                return ExitCodes.ConfigurationError;
            }
        });
        return command;
    }
}
