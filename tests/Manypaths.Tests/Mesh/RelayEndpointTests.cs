using System.Globalization;
using System.Net;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>The relay endpoint is not an open proxy: only signed, fresh, loop-free requests to configured upstreams.</summary>
public sealed class RelayEndpointTests
{
    private static HttpRequestMessage Signed(int meshPort, string pathAndQuery, string from = "n1", string chain = "", int hops = 0, PeerSigner? signer = null, TimeProvider? time = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{meshPort}{RelayHeaders.PathPrefix}{pathAndQuery}");
        RelayHeaders.Sign(request, signer ?? new PeerSigner([MeshCluster.Secret]), from, hops, chain, time ?? TimeProvider.System);
        return request;
    }

    [Fact]
    public async Task Relay_RefusesUnsignedExpiredReplayedLoopingAndForeignTargets_AndServesAGoodOne()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }");
        var port = cluster.MeshPorts["n2"];
        using var client = new HttpClient();

        using (var unsigned = await client.GetAsync($"http://127.0.0.1:{port}{RelayHeaders.PathPrefix}svc/u1/x"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        }

        using (var wrongKey = await client.SendAsync(Signed(port, "svc/u1/x", signer: new PeerSigner(["not-the-secret"]))))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        }

        using (var stranger = await client.SendAsync(Signed(port, "svc/u1/x", from: "mallory")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
        }

        var old = new FakeTimeProvider(TimeProvider.System.GetUtcNow() - TimeSpan.FromMinutes(5));
        using (var expired = await client.SendAsync(Signed(port, "svc/u1/x", time: old)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        }

        var good = Signed(port, "svc/u1/ok?a=1");
        var replay = new HttpRequestMessage(HttpMethod.Get, good.RequestUri);
        foreach (var h in good.Headers)
        {
            replay.Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        using (var ok = await client.SendAsync(good))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal("/ok?a=1", up.Seen.Single().Path);
        using (var replayed = await client.SendAsync(replay))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, replayed.StatusCode);
        }

        using (var loop = await client.SendAsync(Signed(port, "svc/u1/x", chain: "n2")))
        {
            Assert.Equal(HttpStatusCode.LoopDetected, loop.StatusCode); // this node is already on the chain
        }

        using (var noBudget = await client.SendAsync(Signed(port, "svc/u1/x", hops: -1)))
        {
            Assert.Equal(HttpStatusCode.LoopDetected, noBudget.StatusCode);
        }

        using (var foreign = await client.SendAsync(Signed(port, "svc/evil.example.com/x")))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        using (var unknownService = await client.SendAsync(Signed(port, "nope/u1/x")))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknownService.StatusCode);
        }

        Assert.Single(up.Seen);
        var metrics = cluster.Nodes["n2"].Exporter.Render();
        Assert.Contains("manypaths_relay_refused_total{reason=\"unauthenticated\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_relay_refused_total{reason=\"expired_or_replayed\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_relay_refused_total{reason=\"loop\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_relay_refused_total{reason=\"unknowntarget\"} 2", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RelayedRequest_IsNeverRelayedAgain_EvenWhenTheRelaysOwnDirectPathIsDown()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\ntimeouts: { connect: 200ms }");
        cluster.Nodes["n2"].Faults.Set($"127.0.0.1:{up.Port}", new Fault(FaultKind.Reset));
        using var client = new HttpClient();
        using var r = await client.SendAsync(Signed(cluster.MeshPorts["n2"], "svc/u1/x"));
        Assert.NotEqual(HttpStatusCode.OK, r.StatusCode);
        Assert.Empty(up.Seen);
        var n3Relays = cluster.Nodes["n2"].Exporter.Render().Split('\n').Count(l => l.StartsWith("manypaths_relayed_requests_total", StringComparison.Ordinal));
        Assert.Equal(0, n3Relays);
    }
}
