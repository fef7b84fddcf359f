using Manypaths.Cli;

return await CommandLine.Build().Parse(args).InvokeAsync();
