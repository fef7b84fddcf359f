using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using Manypaths.Config;
using Manypaths.Mesh;
using Manypaths.Node;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Manypaths.Demo;

/// <summary>
/// `manypaths demo`: three nodes (blr, maa, del) in front of simulated upstreams in two regions. It drives steady
/// traffic through blr, blackholes blr's own path to the primary tier (traffic goes through a peer), heals it,
/// then kills the primary tier (traffic crosses to the backup region) and revives it, showing where every
/// request went.
/// </summary>
internal static class DemoCommand
{
    private const int RequestsPerSecond = 50;

    /// <summary>The summary is for people too: no \u0027 for apostrophes.</summary>
    private static readonly DemoJsonContext Readable = new(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    });
    private static readonly string[] NodeNames = ["blr", "maa", "del"];

    public static async Task<int> RunAsync(string? durationText, bool jsonOnly, CancellationToken cancellationToken)
    {
        TimeSpan? duration = null;
        if (durationText is not null)
        {
            if (!ValueParsers.TryParseDuration(durationText, out var d) || d < TimeSpan.FromSeconds(8))
            {
                await Console.Error.WriteLineAsync($"--duration must be a duration of at least 8s, such as 30s, not '{durationText}'.");
                return 2;
            }

            duration = d;
        }

        var time = TimeProvider.System;
        var dir = Directory.CreateTempSubdirectory("manypaths-demo-");
        var upstreams = new[] { new SimulatedUpstream("use1", FreePort.Next()), new SimulatedUpstream("use2", FreePort.Next()), new SimulatedUpstream("euw1", FreePort.Next()) };
        var configPath = await WriteConfigAsync(dir, upstreams, cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        if (duration is { } limit)
        {
            stop.CancelAfter(limit);
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

        // MANYPATHS_DEMO_LOG=Warning (or Debug) shows the nodes' own logs under the demo's lines.
        using var loggers = Cli.Logging.Create(Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("MANYPATHS_DEMO_LOG"), out var level) ? level : LogLevel.None);
        var nodes = new List<NodeHost>();
        foreach (var u in upstreams)
        {
            await u.StartAsync();
        }

        try
        {
            foreach (var name in NodeNames)
            {
                var node = new NodeHost(name, time, loggers) { HistoryDirectory = Path.Combine(Path.GetTempPath(), "manypaths-demo-history") }; // a demo leaves nothing in ~
                nodes.Add(node);
                await node.StartAsync(config.Config!, cancellationToken);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"The demo could not start its nodes: {e.Message}");
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }

            return 1;
        }

        var blr = nodes[0];
        var proxyUrl = $"http://{config.Config!.Services["control"].Listen!.For("blr")}/";
        var statusUrl = blr.AdminUrl!.ToString();
        if (!jsonOnly)
        {
            Console.WriteLine($"Manypaths demo: 3 nodes (blr, maa, del). Status page {statusUrl}  blr's proxy {proxyUrl}  config {configPath}");
            Console.WriteLine("Traffic enters at blr. The demo breaks blr's own path to us-east (it goes through a peer), heals it, then kills us-east (it crosses to eu-west). Ctrl-C ends it.");
        }

        var load = new DemoLoad(proxyUrl, time);
        var started = time.GetTimestamp();
        var events = new ConcurrentQueue<DemoEvent>();
        var loadTask = load.RunAsync(RequestsPerSecond, stop.Token);
        var script = ScriptAsync(blr, upstreams, duration, events, started, time, jsonOnly ? null : Console.Out, stop.Token);
        await Display(blr, load, !jsonOnly && !Console.IsOutputRedirected, jsonOnly, time, stop.Token);
        await Task.WhenAll(loadTask, script);

        foreach (var n in nodes)
        {
            await n.DisposeAsync();
        }

        foreach (var u in upstreams)
        {
            await u.DisposeAsync();
        }

        var summary = new DemoSummary("The demo has ended: status_url and proxy_url served while it ran and are gone now.", statusUrl, proxyUrl, Math.Round(time.GetElapsedTime(started).TotalSeconds, 1), load.Requests, load.Failed, load.Failures.ToDictionary(k => k.Key, k => k.Value),
            load.ServedBy.ToDictionary(k => k.Key, k => k.Value), load.Routes.ToDictionary(k => k.Key, k => k.Value), events.ToList());
        Console.WriteLine(JsonSerializer.Serialize(summary, Readable.DemoSummary));
        try
        {
            dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        return load.Failed == 0 ? 0 : 1;
    }

    private static async Task<string> WriteConfigAsync(DirectoryInfo dir, SimulatedUpstream[] upstreams, CancellationToken ct)
    {
        string Random() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), Random(), ct);
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "cluster.key"), Random(), ct);
        var regions = new[] { "in-south", "in-south", "in-north" };
        var nodes = string.Join("\n", NodeNames.Select((n, i) => $"  {n}: {{ mesh: http://127.0.0.1:{FreePort.Next()}, admin: http://127.0.0.1:{FreePort.Next()}, region: {regions[i]} }}"));
        var listen = string.Join(", ", NodeNames.Select(n => $"{n}: 127.0.0.1:{FreePort.Next()}"));
        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(path, $$"""
            cluster: { name: demo, secret_file: cluster.key, admin_token_file: admin.token, shutdown_grace: 2s }
            mesh: { heartbeat: 100ms, dead_after: 1500ms }
            nodes:
            {{nodes}}
            services:
              control:
                relay: true
                listen: { {{listen}} }
                upstreams:
                  - { name: use1, url: {{upstreams[0].Url}}, region: us-east }
                  - { name: use2, url: {{upstreams[1].Url}}, region: us-east }
                  - { name: euw1, url: {{upstreams[2].Url}}, region: eu-west, tier: backup }
                health: { path: /healthz, interval: 1s, fast_interval: 200ms, timeout: 800ms, rise: 2, fall: 2 }
                timeouts: { connect: 1s, first_byte: 2s }
                retries: 2
            """, ct);
        return path;
    }

    /// <summary>
    /// One cycle: blackhole blr -> us-east at 15%, heal at 40%, kill us-east at 55%, revive at 80%.
    /// Without a duration the cycle is 40 s and repeats.
    /// </summary>
    private static async Task ScriptAsync(NodeHost blr, SimulatedUpstream[] upstreams, TimeSpan? duration, ConcurrentQueue<DemoEvent> events, long started, TimeProvider time, TextWriter? log, CancellationToken stop)
    {
        var cycle = duration ?? TimeSpan.FromSeconds(40);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var cycleStart = time.GetElapsedTime(started);
                async Task At(double share) => await Task.Delay(Max(cycleStart + (cycle * share) - time.GetElapsedTime(started)), time, stop);

                await At(0.15);
                foreach (var u in upstreams[..2])
                {
                    blr.Faults.Set($"127.0.0.1:{u.Port}", new Fault(FaultKind.Blackhole));
                }

                Note("blackholed blr's own path to us-east: blr must reach use1/use2 through maa or del");
                await At(0.40);
                blr.Faults.ClearAll();
                Note("healed blr's path: traffic returns to the direct path once it passes its rise probes");
                await At(0.55);
                await upstreams[0].KillAsync();
                await upstreams[1].KillAsync();
                Note("killed use1 and use2: every node must cross to euw1 in eu-west");
                await At(0.80);
                await upstreams[0].StartAsync();
                await upstreams[1].StartAsync();
                Note("revived use1 and use2: traffic returns to us-east after rise");
                await At(1.0);
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

    private static TimeSpan Max(TimeSpan t) => t > TimeSpan.Zero ? t : TimeSpan.Zero;

    private static async Task Display(NodeHost node, DemoLoad load, bool live, bool quiet, TimeProvider time, CancellationToken stop)
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
                parts.Add($"{u.Name}:{u.State}");
            }

            var routes = new List<string>();
            foreach (var (route, count) in load.Routes.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                var delta = count - last.GetValueOrDefault(route);
                last[route] = count;
                if (delta > 0)
                {
                    routes.Add($"{route} {delta}/s");
                }
            }

            var served = string.Join(" ", load.ServedBy.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}"));
            var line = $"requests {load.Requests,6}  failed {load.Failed,3} | blr sees {string.Join(" ", parts)} | {string.Join(", ", routes)} | served {served}";
            if (live)
            {
                AnsiConsole.MarkupLine(Markup.Escape(line).Replace(":down", ":[red]down[/]", StringComparison.Ordinal).Replace(":up", ":[green]up[/]", StringComparison.Ordinal).Replace("via ", "[yellow]via[/] ", StringComparison.Ordinal));
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
