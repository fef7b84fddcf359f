using System.Net;
using Manypaths.Mesh;
using Manypaths.Routing;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>A failover lands on connections that are already open: the standby path's pool is kept warm.</summary>
public sealed class StandbyWarmupTests
{
    // No hedging: a hedge would carry requests to the backup (and open connections there) before any failover.
    private const string FastHealth = "health: { path: /healthz, interval: 300ms, fast_interval: 50ms, timeout: 300ms, rise: 2, fall: 1 }\nhedge: off";

    [Fact]
    public async Task TheBackupsPoolIsWarmedPastThePeak_AndAFailoverOpensNoNewConnection()
    {
        await using var primary = await TestUpstream.StartAsync("primary");
        await using var backup = await TestUpstream.StartAsync("backup");
        primary.Behaviour = UpstreamBehaviour.Slow;
        primary.SlowDelay = TimeSpan.FromSeconds(2);
        var (yaml, port) = Yaml.Service($"- {{ name: primary, url: {primary.Url} }}\n- {{ name: backup, url: {backup.Url}, tier: backup }}", FastHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var url = $"http://127.0.0.1:{port}/work";

        // 10 requests at once on the slow primary: the node's peak is 10, so 20 warm-up GETs go to the backup at once.
        var slow = Enumerable.Range(0, 10).Select(_ => client.GetAsync(url)).ToArray();
        try
        {
            await Eventually.TrueAsync(() => backup.Warmups >= 20 && backup.AcceptedConnections.Count > 10, "20 warm-ups on more than 10 connections", TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: warm-ups {backup.Warmups}, connections {backup.AcceptedConnections.Count}, client requests {backup.Requests}", e);
        }

        foreach (var r in await Task.WhenAll(slow))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            r.Dispose();
        }

        Assert.Equal(0, backup.Requests); // warm-ups are not client requests
        var warmed = backup.AcceptedConnections.Keys.ToHashSet();

        // The primary dies: 10 requests at once fail over to the backup, every one on a connection already open.
        await primary.KillAsync();
        var failover = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.GetAsync(url)));
        Assert.All(failover, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(10, backup.Requests);
        var opened = backup.RequestConnections.Where(id => !warmed.Contains(id)).ToList();
        Assert.True(opened.Count == 0, $"{opened.Count} of 10 failed-over requests opened a new connection to the backup");
        Assert.Contains("manypaths_standby_warmups_total{", await client.GetStringAsync(new Uri(node.Admin, "metrics")));
    }

    /// <summary>
    /// A standby path judged down while it is being warmed is given up at once, not after the warm-up's 10 s timeout:
    /// a blackholed backup would otherwise hold that top-up, and every top-up after it, for 10 s (measured at 250 ms
    /// round trips: the grown top-up a failover needs came 10 s late, in the middle of the fault).
    /// </summary>
    [Fact]
    public async Task AStandbyPathJudgedDownWhileBeingWarmed_IsGivenUpAtOnce()
    {
        await using var primary = await TestUpstream.StartAsync("primary");
        await using var backup = await TestUpstream.StartAsync("backup");
        primary.Behaviour = UpstreamBehaviour.Slow;
        primary.SlowDelay = TimeSpan.FromSeconds(2);
        backup.WarmupsHang = true;
        var (yaml, port) = Yaml.Service($"- {{ name: primary, url: {primary.Url} }}\n- {{ name: backup, url: {backup.Url}, tier: backup }}", FastHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var slow = Enumerable.Range(0, 10).Select(_ => client.GetAsync($"http://127.0.0.1:{port}/work")).ToArray();
        await Eventually.TrueAsync(() => backup.Warmups >= 20, "20 warm-ups hang at the backup", TimeSpan.FromSeconds(15));
        Assert.Equal(0, backup.WarmupsGivenUp);

        // The backup's probes fail (fall: 1): it is Down within a probe, and its warm-ups are given up well before the
        // 10 s warm-up timeout.
        var judged = TimeProvider.System.GetTimestamp();
        backup.HealthOk = false;
        await Eventually.TrueAsync(() => backup.WarmupsGivenUp >= 20, "the hanging warm-ups are given up", TimeSpan.FromSeconds(15));
        var after = TimeProvider.System.GetElapsedTime(judged);
        Assert.True(after < TimeSpan.FromSeconds(8), $"the warm-ups of a path judged down were given up only after {after.TotalSeconds:0.0} s (the warm-up timeout is 10 s)");
        var metrics = await client.GetStringAsync(new Uri(node.Admin, "metrics"));
        Assert.Contains("manypaths_standby_warmups_total{service=\"svc\",path=\"direct\",result=\"failed\"}", metrics);
        foreach (var r in await Task.WhenAll(slow))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            r.Dispose();
        }
    }

    [Fact]
    public async Task ThroughPeers_BothPeersPoolsAreWarmed_AndThePeersCountNothing()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(2);
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}",
            "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms, rise: 2, fall: 1 }\nhedge: off");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        // 10 requests at once through n1: its standby paths are u1 through n2 and through n3, 20 connections each.
        var slow = Enumerable.Range(0, 10).Select(_ => client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/work")).ToArray();
        await Eventually.TrueAsync(() => up.Warmups >= 40, "40 warm-ups reach u1 through the two peers", TimeSpan.FromSeconds(15));
        foreach (var r in await Task.WhenAll(slow))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            r.Dispose();
        }

        Assert.Equal(10, up.Requests); // only the client's requests; warm-ups are health GETs
        foreach (var peer in new[] { "n2", "n3" })
        {
            // The peer sent them over its own pool, outside its attempt loop: no latency sample, no request, no refusal.
            var core = cluster.Nodes[peer].Generation!.Services["svc"];
            Assert.Equal(0, core.FirstByteWindow(new PathKey(0, null)).Count);
            var metrics = await client.GetStringAsync(new Uri(cluster.Nodes[peer].AdminUrl!, "metrics"));
            Assert.DoesNotContain("manypaths_requests_total{", metrics);
            Assert.DoesNotContain("manypaths_relay_refused_total{", metrics);
            Assert.Contains("manypaths_standby_warmups_total{", await client.GetStringAsync(new Uri(cluster.Nodes["n1"].AdminUrl!, "metrics")));
        }
    }

    /// <summary>
    /// A node whose link to a peer is busy with live requests asks the peer to warm its own leg in one request (a burst
    /// over the busy link would take the connections those requests need): the peer sends that many health GETs at
    /// once, at most 256, and says how many succeeded. Signed like every mesh request.
    /// </summary>
    [Fact]
    public async Task ThePeersWarmEndpoint_SendsAsManyHealthGetsAsAsked_UpToTheCap_AndOnlyWhenSigned()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }");
        var port = cluster.MeshPorts["n2"];
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        HttpRequestMessage Warm(string query)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{RelayHeaders.WarmPrefix}svc/u1{query}");
            RelayHeaders.Sign(request, new PeerSigner([MeshCluster.Secret]), "n1", 0, "", TimeProvider.System);
            return request;
        }

        using (var unsigned = await client.GetAsync($"http://127.0.0.1:{port}{RelayHeaders.WarmPrefix}svc/u1?n=5"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        }

        var before = up.Warmups;
        using (var five = await client.SendAsync(Warm("?n=5")))
        {
            Assert.Equal(HttpStatusCode.NoContent, five.StatusCode);
            Assert.Equal("5", five.Headers.GetValues(RelayHeaders.Warmed).Single());
        }

        Assert.Equal(before + 5, up.Warmups);
        using (var huge = await client.SendAsync(Warm("?n=100000")))
        {
            Assert.Equal("256", huge.Headers.GetValues(RelayHeaders.Warmed).Single());
        }

        Assert.Equal(before + 5 + 256, up.Warmups);
        Assert.Equal(0, up.Requests); // health GETs only: nothing reached the upstream as a request
    }
}
