using System.Runtime.InteropServices;
using Manypaths.Config;
using Manypaths.Node;
using Microsoft.Extensions.Logging;

namespace Manypaths.Cli;

/// <summary>`manypaths run`: one node until SIGTERM/SIGINT, then a graceful drain.</summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(string configPath, string node, LogLevel level)
    {
        var result = ConfigLoader.LoadFile(configPath);
        if (!result.Ok)
        {
            foreach (var e in result.Errors)
            {
                await Console.Error.WriteLineAsync(e.ToString());
            }

            await Console.Error.WriteLineAsync($"Not starting: {result.Errors.Count} problem(s) in the config.");
            return 1;
        }

        using var loggers = Logging.Create(level);
        var time = TimeProvider.System;
        await using var host = new NodeHost(node, time, loggers);
        try
        {
            await host.StartAsync(result.Config!, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"Not starting: {e.Message}");
            return 1;
        }

        var stop = new TaskCompletionSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.TrySetResult(); });
        using var watcher = new ConfigWatcher(configPath, () => host.ReloadAsync(configPath, CancellationToken.None), time);
        SystemdNotify.Send("READY=1");
        await stop.Task;
        SystemdNotify.Send("STOPPING=1");
        await host.StopAsync();
        return 0;
    }
}
