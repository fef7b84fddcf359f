using System.Collections.Concurrent;
using System.Net;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>Three real nodes in one process; the fault layer breaks one node's direct path.</summary>
public sealed class RelayMeshTests
{
    private const string Fast = "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms, rise: 2, fall: 1 }\ntimeouts: { connect: 200ms, first_byte: 1s }\nretries: 2";

    [Fact]
    public async Task Peers_SeeEachOther_MeasureRtt_AndLearnEachOthersViews()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", Fast);
        var mesh = cluster.Nodes["n1"].Mesh!;
        await Eventually.TrueAsync(() => mesh.Link("n2").State == LinkState.Up && mesh.Link("n3").State == LinkState.Up, "n1 hears n2 and n3");
        await Eventually.TrueAsync(() => mesh.Views.Get("n2", "svc", "u1")?.State == HealthState.Up, "n2's view of u1 reaches n1");
        await Eventually.TrueAsync(() => !double.IsNaN(mesh.Link("n2").RttMs), "a pong from n2 gives an RTT");
        Assert.InRange(mesh.Link("n2").RttMs, 0, 1000);
    }

    [Fact]
    public async Task LinkLoss_IsMeasuredFromHeartbeats()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", Fast);
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").State == LinkState.Up && n1.Mesh.Link("n3").State == LinkState.Up, "links up");
        n1.Faults.Set($"127.0.0.1:{cluster.MeshPorts["n2"]}", new Fault(FaultKind.Loss, 30));
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").Loss is > 0.1 and < 0.6, "about 30% loss on n1->n2", TimeSpan.FromSeconds(20));
        // The other link is not affected (it can show a little loss only when the test machine is starved).
        Assert.True(n1.Mesh!.Link("n3").Loss < n1.Mesh.Link("n2").Loss / 2, $"n3 {n1.Mesh.Link("n3").Loss}, n2 {n1.Mesh.Link("n2").Loss}");
    }

    [Fact]
    public async Task BlackholedDirectPath_MovesTrafficToTheRelay_WithoutAFailedGet_AndBackWhenItHeals()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", Fast);
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up && n1.Mesh.Views.Get("n3", "svc", "u1")?.State == HealthState.Up, "peers report u1 up");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var url = $"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/work";
        var failures = new ConcurrentBag<string>();
        var relayed = 0;
        var tasks = new List<Task>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        const int total = 2000;
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromMilliseconds(i * 5) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, TimeProvider.System);
            }

            if (i == 300)
            {
                n1.Faults.Set($"127.0.0.1:{up.Port}", new Fault(FaultKind.Blackhole));
            }

            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    using var r = await client.GetAsync(url);
                    if (r.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Add($"status {(int)r.StatusCode}");
                    }
                }
                catch (Exception e)
                {
                    failures.Add(e.Message);
                }
            }));
        }

        await Task.WhenAll(tasks);
        relayed = up.Seen.Count(s => s.Headers.TryGetValue("Via", out var via) && via.Contains("manypaths-n2", StringComparison.Ordinal) || s.Headers.TryGetValue("Via", out var v3) && v3.Contains("manypaths-n3", StringComparison.Ordinal));
        Assert.Empty(failures);
        Assert.True(relayed > total / 2, $"only {relayed} requests went through a peer");
        Assert.All(up.Seen.Where(s => s.Path == "/work"), s => Assert.False(s.Headers.Keys.Any(k => k.StartsWith("X-Manypaths-", StringComparison.OrdinalIgnoreCase)), "mesh headers reached the upstream"));

        n1.Faults.ClearAll();
        var direct = n1.Generation!.Services["svc"].Upstreams[0].Health;
        await Eventually.TrueAsync(() => direct.State == HealthState.Up, "the direct path passes rise probes again", TimeSpan.FromSeconds(30));
        var before = up.Seen.Count;
        var metricsBefore = await client.GetStringAsync(new Uri(n1.AdminUrl!, "metrics"));
        const int back = 20;
        for (var i = 0; i < back; i++)
        {
            using var r = await client.GetAsync($"{url}?back={i}");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        // Each GET is sent down the healed direct path first. Hedging is on by default, so a GET that is slow there
        // (a busy machine) may get a second attempt through a peer, as may a connect slower than usual (a race), a
        // failed attempt (a retry) or one whose path was judged down under it (a rescue): only such extra attempts,
        // which the node counts, may go through a peer, never a request's first.
        var metricsAfter = await client.GetStringAsync(new Uri(n1.AdminUrl!, "metrics"));
        long Delta(string name, string? label = null) => PrometheusText.Sum(metricsAfter, name, label) - PrometheusText.Sum(metricsBefore, name, label);
        var extra = Delta("manypaths_hedges_total", "result=\"started\"") + Delta("manypaths_connect_races_total") + Delta("manypaths_retries_total")
            + Delta("manypaths_rescues_total");
        var after = up.Seen.Skip(before).Where(s => s.Path.StartsWith("/work?back=", StringComparison.Ordinal)).ToList();
        var throughPeers = after.Where(s => s.Headers["Via"] != "1.1 manypaths-n1").Select(s => $"{s.Path} via {s.Headers["Via"]}").ToList();
        var sentDirect = after.Where(s => s.Headers["Via"] == "1.1 manypaths-n1").Select(s => s.Path).Distinct().Count();
        Assert.True(throughPeers.Count <= extra, $"{throughPeers.Count} GETs went through a peer after the heal, with {extra} hedges, races and retries: {string.Join(", ", throughPeers)}");
        Assert.True(sentDirect + extra >= back, $"only {sentDirect} of {back} GETs reached the upstream directly after the heal, with {extra} hedges, races and retries");
    }

    [Fact]
    public async Task PeerDyingMidRequest_IdempotentRequestsRetryOnAnotherPath()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        // dead_after 2 s: tearing a node down inside this test process can stall the others' heartbeats for half a
        // second, which would make the surviving peer look down too (separate processes do not share that stall).
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", Fast, new MeshClusterOptions("{ heartbeat: 50ms, dead_after: 2s, window: 40 }"));
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up && n1.Mesh.Views.Get("n3", "svc", "u1")?.State == HealthState.Up, "peers report u1 up");
        n1.Faults.Set($"127.0.0.1:{up.Port}", new Fault(FaultKind.Reset));
        await Eventually.TrueAsync(() => n1.Generation!.Services["svc"].Upstreams[0].Health.State == HealthState.Down, "n1's own path is down");
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromMilliseconds(600); // below first_byte (1s)
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var before = up.Requests;
        var requests = Enumerable.Range(0, 8).Select(_ => client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/slow")).ToList();
        await Eventually.TrueAsync(() => up.Requests - before >= 8, "all requests are in flight through peers");
        var throughN2 = up.Seen.Skip(before).Count(s => s.Headers.TryGetValue("Via", out var via) && via.Contains("manypaths-n2", StringComparison.Ordinal));
        var busiest = throughN2 * 2 >= 8 ? "n2" : "n3";
        await cluster.Nodes[busiest].DisposeAsync(); // the peer carrying most of them dies with them in flight

        var responses = await Task.WhenAll(requests);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task Status_ShowsEveryPathWithItsStateAndWhy_AndThePeerLinks()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", Fast);
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up, "n2's view arrives");
        n1.Faults.Set($"127.0.0.1:{cluster.MeshPorts["n3"]}", new Fault(FaultKind.Blackhole));
        using var client = new HttpClient();
        await Eventually.TrueAsync(async () =>
        {
            using var doc = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(new Uri(n1.AdminUrl!, "api/status")));
            var paths = doc.RootElement.GetProperty("services")[0].GetProperty("paths").EnumerateArray().ToList();
            var peers = doc.RootElement.GetProperty("peers").EnumerateArray().ToList();
            string? Via(System.Text.Json.JsonElement p) => p.GetProperty("via").ValueKind == System.Text.Json.JsonValueKind.Null ? null : p.GetProperty("via").GetString();
            var direct = paths.Single(p => Via(p) is null);
            var viaN2 = paths.Single(p => Via(p) == "n2");
            var viaN3 = paths.Single(p => Via(p) == "n3");
            return direct.GetProperty("state").GetString() == "up"
                && viaN2.GetProperty("state").GetString() == "up" && viaN2.GetProperty("why").GetString()!.Contains("n2 sees u1 up", StringComparison.Ordinal)
                && viaN3.GetProperty("state").GetString() == "down" && viaN3.GetProperty("why").GetString()!.Contains("link to n3 is down", StringComparison.Ordinal)
                && peers.Single(p => p.GetProperty("name").GetString() == "n3").GetProperty("state").GetString() == "down"
                && peers.Single(p => p.GetProperty("name").GetString() == "n2").GetProperty("state").GetString() == "up";
        }, "status explains every path and shows the peer links", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task SlowDirectPath_MovesToAClearlyFasterRelay_AndBackWhenItRecovers()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}",
            "health: { interval: 1s, fast_interval: 200ms, timeout: 1s, rise: 2, fall: 3 }\nrelay: { latency_margin: 100ms }");
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up && !double.IsNaN(n1.Mesh.Link("n2").RttMs), "n2's view and RTT arrive");
        n1.Faults.Set($"127.0.0.1:{up.Port}", new Fault(FaultKind.Delay, Delay: TimeSpan.FromMilliseconds(300)));
        using var client = new HttpClient();
        var url = $"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/x";
        await Eventually.TrueAsync(async () =>
        {
            using var r = await client.GetAsync(url);
            return r.StatusCode == HttpStatusCode.OK && up.Seen.Last(s => s.Path == "/x").Headers["Via"].Contains(',', StringComparison.Ordinal);
        }, "a degraded (slow) direct path gives way to a clearly faster relay", TimeSpan.FromSeconds(20));
        Assert.NotEqual(HealthState.Down, n1.Generation!.Services["svc"].Upstreams[0].Health.State); // slow, not ejected: probes pass

        n1.Faults.ClearAll();
        await Eventually.TrueAsync(async () =>
        {
            using var r = await client.GetAsync(url);
            return r.StatusCode == HttpStatusCode.OK && up.Seen.Last(s => s.Path == "/x").Headers["Via"] == "1.1 manypaths-n1";
        }, "back on the direct path once it is fast again", TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task HedgedGet_GoesThroughAPeer_WhenTheOnlyUpstreamIsSlowDirectly_AndTheSlowAttemptIsCancelled()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        // One upstream: the only independent path for a hedge is the same upstream through a peer. The direct
        // path is healthy (probes are fast) but requests arriving straight from n1 stall for 3 s.
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(8); // the relayed hedge (after 1 s) has 7 s to win, even on a starved machine
        up.SlowOnlyWhen = r => !ThroughAPeer(r.Headers.Via.ToString());
        // Probes tolerant of a loaded machine (fall 3), so the direct path is up and the first attempt goes direct:
        // an answer through a peer within the stall can then only be the hedge.
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}",
            "health: { interval: 500ms, fast_interval: 100ms, timeout: 400ms, rise: 1, fall: 3 }\ntimeouts: { connect: 200ms, first_byte: 5s }\nretries: 2\nhedge: { delay: 250ms, max_attempts: 2 }\nrelay: { latency_margin: 10s }");
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Generation!.Services["svc"].Upstreams[0].Health.State == HealthState.Up
            && n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up && n1.Mesh.Views.Get("n3", "svc", "u1")?.State == HealthState.Up, "direct and peer views up");

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/quote");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.8), $"took {clock.Elapsed}: the hedge did not win over the 3 s stall");
        // The first attempt went direct and stalled past the hedge delay: outpaced, a passive failure (suspect, not out).
        Assert.Equal(HealthState.Suspect, n1.Generation!.Services["svc"].Upstreams[0].Health.State);
        var via = string.Join(", ", response.Headers.Via.Select(v => v.ToString()));
        Assert.Matches("manypaths-n[23]", via); // the answer came back through a peer
        // One hedge through a peer, plus the stalled direct attempt unless the hedge won before it even arrived
        // (on a loaded machine); nothing else.
        Assert.InRange(up.Requests, 1, 2);
        await Eventually.TrueAsync(() => up.Cancelled == up.Requests - 1, "the stalled direct attempt is cancelled, its connection cleaned up");
    }

    [Fact]
    public async Task DirectPathOutpacedByAHedge_CountsAsLoss_SoTheNextRequestsGoThroughAPeerFirst()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        // As on a lossy link: the direct path answers probes, but its requests stall (a retransmit).
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(8); // the relayed hedge (after 1 s) has 7 s to win, even on a starved machine
        up.SlowOnlyWhen = r => !ThroughAPeer(r.Headers.Via.ToString());
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}",
            // Slow probes (every 5 s) keep the success rate down for the whole test; a 1 s hedge delay never fires
            // on a relayed request, however loaded the machine.
            "health: { interval: 5s, fast_interval: 1s, timeout: 1s, rise: 2, fall: 3 }\ntimeouts: { connect: 200ms, first_byte: 10s }\nretries: 2\nhedge: { delay: 1s, max_attempts: 2 }\nrelay: { latency_margin: 10s }"); // only loss moves traffic
        var n1 = cluster.Nodes["n1"];
        var u1 = n1.Generation!.Services["svc"].Upstreams[0];
        await Eventually.TrueAsync(() => u1.Health.State == HealthState.Up
            && n1.Mesh!.Views.Get("n2", "svc", "u1")?.State == HealthState.Up && n1.Mesh.Views.Get("n3", "svc", "u1")?.State == HealthState.Up, "direct and peer views up");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var url = $"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/quote";

        using (var first = await client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode); // the hedge through a peer won
        }

        await Eventually.TrueAsync(() => u1.Health.Snapshot().SuccessRate < 0.95, "the outpaced direct attempt counts as a loss");
        Assert.Equal(HealthState.Suspect, u1.Health.State); // a passive failure: suspect, not ejected after one
        var directBefore = up.Seen.Count(s => !ThroughAPeer(s.Headers.GetValueOrDefault("Via", "")));
        for (var i = 0; i < 5; i++)
        {
            using var r = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        var directAfter = up.Seen.Count(s => !ThroughAPeer(s.Headers.GetValueOrDefault("Via", "")));
        Assert.Equal(directBefore, directAfter); // the relay was clearly better (loss margin), so no request went direct first
    }

    /// <summary>Did a request reach the upstream through n2 or n3 (their Via entries), not straight from n1?</summary>
    private static bool ThroughAPeer(string via) =>
        via.Contains("manypaths-n2", StringComparison.Ordinal) || via.Contains("manypaths-n3", StringComparison.Ordinal);
}
