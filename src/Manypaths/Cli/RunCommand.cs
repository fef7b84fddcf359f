using System.Runtime.InteropServices;
using Manypaths.Config;
using Manypaths.Node;
using Microsoft.Extensions.Logging;

namespace Manypaths.Cli;

/// <summary>
/// `manypaths run`: one node until SIGTERM/SIGINT, then a graceful drain within cluster.shutdown_grace; a second
/// signal during the drain stops at once.
/// </summary>
internal static partial class RunCommand
{
    private static PosixSignalRegistration[]? s_signals;

    public static async Task<int> RunAsync(string configPath, string node, LogLevel level)
    {
        var result = ConfigLoader.LoadFile(configPath);
        foreach (var line in ConfigError.Lines(result.Warnings, "warning"))
        {
            await Console.Error.WriteLineAsync(line);
        }

        if (!result.Ok)
        {
            foreach (var line in ConfigError.Lines(result.Errors))
            {
                await Console.Error.WriteLineAsync(line);
            }

            await Console.Error.WriteLineAsync($"Not starting: {result.Errors.Count:N0} problem(s) in the config.");
            return 1;
        }

        using var loggers = Logging.Create(level);
        var logger = loggers.CreateLogger("Manypaths.Node");
        var time = TimeProvider.System;
        await using var host = new NodeHost(node, time, loggers);
        try
        {
            await host.StartAsync(result.Config!, CancellationToken.None, result.ContentHash);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"Not starting: {e.Message}");
            return 1;
        }

        var stop = new TaskCompletionSource();
        // Not disposed, like the registrations below: a signal's handler runs on its own thread and may still be under
        // way as the node exits (a late SIGTERM crashed it with ObjectDisposedException), and a bare source holds
        // nothing to free.
        var now = new CancellationTokenSource();
        var again = 0;
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            if (!stop.TrySetResult() && Interlocked.Exchange(ref again, 1) == 0)
            {
                Log.StoppingNow(logger, ctx.Signal.ToString()); // once: an impatient script may send hundreds
                now.Cancel();
            }
        }

        // Kept for the life of the process: a SIGTERM after they were gone would end it with the runtime's default (exit
        // 143, as if it had not stopped cleanly) while it finishes stopping.
        s_signals = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal)];
        var watcher = new ConfigWatcher(configPath, reason => host.ReloadAsync(configPath, reason, CancellationToken.None), time);
        SystemdNotify.Send("READY=1");
        await stop.Task;
        watcher.Dispose(); // no reload may open a listener while the node drains
        SystemdNotify.Send("STOPPING=1");
        await host.StopAsync(now.Token);
        return 0;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, EventName = "StoppingNow", Level = LogLevel.Warning, Message = "{Signal} again while draining: stopping now; requests still in flight are cut")]
        public static partial void StoppingNow(ILogger logger, string signal);
    }
}
