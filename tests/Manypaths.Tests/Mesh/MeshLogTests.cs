using System.Net;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Mesh;

/// <summary>What the mesh tells an operator in the log: peers going and coming, and nothing alarming for what is normal.</summary>
public sealed class MeshLogTests
{
    [Fact]
    public void PeerTransitions_StartUpIsInformation_LosingAPeerAndItsReturnAreWarnings_WithHowLongTheyLasted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var logs = new CapturedLogs();
        var transitions = new PeerTransitions(time, logs.Factory.CreateLogger("Manypaths.Mesh"));

        transitions.Observe("maa", new LinkSnapshot(LinkState.Unknown, double.NaN, 0, null));
        time.Advance(TimeSpan.FromSeconds(1.5));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Down, double.NaN, 0, null)); // not up yet: a cluster starting
        time.Advance(TimeSpan.FromSeconds(2));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Up, 0.4, 0, time.GetUtcNow()));
        time.Advance(TimeSpan.FromSeconds(192));
        var lastHeard = time.GetUtcNow();
        transitions.Observe("maa", new LinkSnapshot(LinkState.Up, 0.4, 0, lastHeard));
        time.Advance(TimeSpan.FromSeconds(1.2));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Down, 0.4, 0, lastHeard));
        time.Advance(TimeSpan.FromSeconds(45));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Down, 0.4, 0, lastHeard));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Up, 0.5, 0, time.GetUtcNow()));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Up, 0.5, 0, time.GetUtcNow(), Draining: true));
        transitions.Observe("maa", new LinkSnapshot(LinkState.Up, 0.5, 0, time.GetUtcNow(), Draining: true));

        Assert.Equal(
        [
            (LogLevel.Information, "Peer maa not heard yet (1.5 s after this node started); it counts as down until it is"),
            (LogLevel.Information, "Peer maa is up (rtt 0.4 ms)"),
            (LogLevel.Warning, "Peer maa is down: nothing heard for 1.2 s (it was up for 3m 13s); nothing is relayed through it until it is heard again"),
            (LogLevel.Warning, "Peer maa is up again after 45 s down (rtt 0.5 ms)"),
            (LogLevel.Information, "Peer maa is shutting down: nothing new is relayed through it"),
        ], logs.Entries.Select(e => (e.Level, e.Message)).ToList());
    }

    [Fact]
    public void PeerTransitions_APeerNeverHeardForAMinute_IsAWarningOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var logs = new CapturedLogs();
        var transitions = new PeerTransitions(time, logs.Factory.CreateLogger("Manypaths.Mesh"));
        for (var i = 0; i < 130; i++)
        {
            transitions.Observe("del", new LinkSnapshot(i == 0 ? LinkState.Unknown : LinkState.Down, double.NaN, 0, null));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        Assert.StartsWith("Peer del has not been heard in the 1m 0s since this node started: check its mesh address", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APeerThatDies_IsLoggedAsDownAtWarning()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        var logs = new Dictionary<string, CapturedLogs> { ["n1"] = new(), ["n2"] = new() };
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", new MeshClusterOptions(Logs: n => logs[n].Factory), "n1", "n2");
        await Eventually.TrueAsync(() => logs["n1"].Any(LogLevel.Information, "Peer n2 is up"), "n1 logs n2 up");
        await cluster.Nodes["n2"].DisposeAsync();
        await Eventually.TrueAsync(() => logs["n1"].Any(LogLevel.Warning, "Peer n2 is down: nothing heard for"), "n1 logs n2 down");
    }

    [Fact]
    public async Task ARelayedRequestTheClientGaveUpOn_LogsNoStackTraceAnywhere()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(10);
        var logs = new Dictionary<string, CapturedLogs> { ["n1"] = new(), ["n2"] = new(), ["n3"] = new() };
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}",
            "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms, rise: 2, fall: 1 }\ntimeouts: { connect: 200ms }", new MeshClusterOptions(Logs: n => logs[n].Factory));
        var n1 = cluster.Nodes["n1"];
        n1.Faults.Set($"127.0.0.1:{up.Port}", new Fault(FaultKind.Blackhole));
        await Eventually.TrueAsync(() => n1.Generation!.Services["svc"].Upstreams[0].Health.Snapshot().State == HealthState.Down
            && n1.Generation.Services["svc"].Chooser.Explain(0).Any(p => p.Usable), "n1 can only relay");

        using (var client = new HttpClient { Timeout = TimeSpan.FromMilliseconds(500) })
        {
            await Assert.ThrowsAnyAsync<TaskCanceledException>(() => client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/slow"));
        }

        // Every copy that reached the upstream (the relayed attempt, and a hedge through the other peer) was given up.
        await Eventually.TrueAsync(() => up.Requests >= 1 && up.Cancelled == up.Requests, "the relaying peers gave the request up too");
        foreach (var (node, log) in logs)
        {
            Assert.DoesNotContain(log.Entries, e => e.Exception is not null || e.Message.Contains("   at ", StringComparison.Ordinal));
            Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains("cancel", StringComparison.OrdinalIgnoreCase));
        }
    }
}
