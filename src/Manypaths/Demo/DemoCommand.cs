using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using Manypaths.Config;
using Manypaths.Node;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Manypaths.Demo;

/// <summary>
/// `manypaths demo`: one node (the relay mesh will make it three) in front of simulated upstreams in two regions.
/// It drives steady traffic, kills the primary tier, brings it back, and shows where every request went.
/// </summary>
internal static class DemoCommand
{
    private const int RequestsPerSecond = 50;

    public static async Task<int> RunAsync(string? durationText, bool jsonOnly, CancellationToken cancellationToken)
    {
        TimeSpan? duration = null;
        if (durationText is not null)
        {
            if (!ValueParsers.TryParseDuration(durationText, out var d) || d < TimeSpan.FromSeconds(4))
            {
                await Console.Error.WriteLineAsync($"--duration must be a duration of at least 4s, such as 20s, not '{durationText}'.");
                return 2;
            }

            duration = d;
        }

        var time = TimeProvider.System;
        var dir = Directory.CreateTempSubdirectory("manypaths-demo-");
        var upstreams = new[] { new SimulatedUpstream("use1", FreePort.Next()), new SimulatedUpstream("use2", FreePort.Next()), new SimulatedUpstream("euw1", FreePort.Next()) };
        var proxyPort = FreePort.Next();
        var adminPort = FreePort.Next();
        var configPath = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)), cancellationToken);
        await File.WriteAllTextAsync(configPath, $$"""
            cluster: { name: demo, admin_token_file: admin.token, shutdown_grace: 2s }
            nodes:
              blr: { admin: http://127.0.0.1:{{adminPort}}, region: in-south }
            services:
              control:
                listen: 127.0.0.1:{{proxyPort}}
                upstreams:
                  - { name: use1, url: {{upstreams[0].Url}}, region: us-east }
                  - { name: use2, url: {{upstreams[1].Url}}, region: us-east }
                  - { name: euw1, url: {{upstreams[2].Url}}, region: eu-west, tier: backup }
                health: { path: /healthz, interval: 500ms, fast_interval: 100ms, timeout: 300ms, rise: 2, fall: 2 }
                retries: 2
            """, cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        if (duration is { } limit)
        {
            stop.CancelAfter(limit);
        }

        using var loggers = Cli.Logging.Create(LogLevel.None);
        await using var node = new NodeHost("blr", time, loggers);
        foreach (var u in upstreams)
        {
            await u.StartAsync();
        }

        var config = ConfigLoader.LoadFile(configPath);
        if (!config.Ok)
        {
            foreach (var e in config.Errors)
            {
                await Console.Error.WriteLineAsync(e.ToString());
            }

            return 1;
        }

        await node.StartAsync(config.Config!, cancellationToken);
        var proxyUrl = $"http://127.0.0.1:{proxyPort}/";
        var statusUrl = node.AdminUrl!.ToString();
        var live = !jsonOnly && !Console.IsOutputRedirected;
        if (!jsonOnly)
        {
            Console.WriteLine($"Manypaths demo: status page {statusUrl}  proxy {proxyUrl}  config {configPath}");
            Console.WriteLine("Traffic goes to the primary tier (use1, use2 in us-east); the demo kills it and brings it back. Ctrl-C ends it.");
        }

        var load = new DemoLoad(proxyUrl, time);
        var started = time.GetTimestamp();
        var events = new ConcurrentQueue<DemoEvent>();
        var loadTask = load.RunAsync(RequestsPerSecond, stop.Token);
        var script = ScriptAsync(upstreams, duration, events, started, time, jsonOnly ? null : Console.Out, stop.Token);
        await Display(node, load, events, live, jsonOnly, time, stop.Token);
        await Task.WhenAll(loadTask, script);

        foreach (var u in upstreams)
        {
            await u.DisposeAsync();
        }

        var summary = new DemoSummary(statusUrl, proxyUrl, Math.Round(time.GetElapsedTime(started).TotalSeconds, 1), load.Requests, load.Failed,
            load.ServedBy.ToDictionary(k => k.Key, k => k.Value), events.ToList());
        Console.WriteLine(JsonSerializer.Serialize(summary, DemoJsonContext.Default.DemoSummary));
        try
        {
            dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        return load.Failed == 0 ? 0 : 1;
    }

    /// <summary>Kill the primary tier at 25% of the run, revive it at 55%; without a duration, every 30 s.</summary>
    private static async Task ScriptAsync(SimulatedUpstream[] upstreams, TimeSpan? duration, ConcurrentQueue<DemoEvent> events, long started, TimeProvider time, TextWriter? log, CancellationToken stop)
    {
        var cycle = duration ?? TimeSpan.FromSeconds(30);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var cycleStart = time.GetElapsedTime(started);
                await Task.Delay(cycle * 0.25, time, stop);
                await upstreams[0].KillAsync();
                await upstreams[1].KillAsync();
                Note("killed the primary tier (use1, use2): traffic must cross to euw1 in eu-west");
                await Task.Delay(cycleStart + (cycle * 0.55) - time.GetElapsedTime(started), time, stop);
                await upstreams[0].StartAsync();
                await upstreams[1].StartAsync();
                Note("revived use1 and use2: traffic returns once they pass their rise probes");
                await Task.Delay(cycleStart + cycle - time.GetElapsedTime(started), time, stop);
                if (duration is not null)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        void Note(string what)
        {
            var e = new DemoEvent(Math.Round(time.GetElapsedTime(started).TotalSeconds, 1), what);
            events.Enqueue(e);
            log?.WriteLine($"[{e.AtSeconds,5:0.0}s] {what}");
        }
    }

    private static async Task Display(NodeHost node, DemoLoad load, ConcurrentQueue<DemoEvent> events, bool live, bool quiet, TimeProvider time, CancellationToken stop)
    {
        if (quiet)
        {
            await WaitAsync(time, Timeout.InfiniteTimeSpan, stop);
            return;
        }

        var last = new Dictionary<string, long>();
        while (!stop.IsCancellationRequested)
        {
            await WaitAsync(time, TimeSpan.FromSeconds(1), stop);
            var status = Status.StatusReportBuilder.Build(node);
            var parts = new List<string>();
            foreach (var u in status.Services[0].Upstreams)
            {
                var now = load.ServedBy.GetValueOrDefault(u.Name);
                var delta = now - last.GetValueOrDefault(u.Name);
                last[u.Name] = now;
                parts.Add($"{u.Name}:{u.State,-7} {delta,3}/s");
            }

            var line = $"requests {load.Requests,6}  failed {load.Failed,3}  |  {string.Join("  ", parts)}";
            if (live)
            {
                AnsiConsole.MarkupLine(Markup.Escape(line).Replace("down", "[red]down[/]", StringComparison.Ordinal).Replace(":up", ":[green]up[/]", StringComparison.Ordinal));
            }
            else
            {
                Console.WriteLine(line);
            }
        }
    }

    private static async Task WaitAsync(TimeProvider time, TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, time, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
