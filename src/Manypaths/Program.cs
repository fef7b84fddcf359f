using System.CommandLine;
using Manypaths.Cli;

// System.CommandLine would end the process 2 s after SIGTERM (its ProcessTerminationTimeout) and cut the drain
// short: 'run' and 'demo' handle SIGTERM/SIGINT themselves and stop within cluster.shutdown_grace.
return await CommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
