using Distill.Pipeline.Cli;

return await DistillCli.InvokeAsync(args, CliEnvironment.FromConsole());
