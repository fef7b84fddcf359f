using System.Diagnostics;
using System.Net;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>An upstream that dies under waiting requests is seen by the connections it drops, not a round trip later.</summary>
public sealed class UpstreamGoneTests
{
    [Fact]
    public async Task AnUpstreamKilledUnderWaitingGets_IsEjectedAsItsConnectionsClose_AndTheGetsAreAnsweredByTheBackup()
    {
        await using var a = new RawHttpUpstream("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url}, tier: backup }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off\ntimeouts: { connect: 10s }");
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams.All(u => u.Health.State == HealthState.Up), "both upstreams are up");
        using var client = new HttpClient();
        const int n = 5;
        a.Slow = ("/warm", TimeSpan.FromMilliseconds(300)); // at once, so each takes a connection of its own
        await Task.WhenAll(Enumerable.Range(0, n).Select(_ => client.GetStringAsync($"http://127.0.0.1:{port}/warm")));
        Assert.Equal(n, a.Connections); // n pooled connections to a, so the GETs below all go on reused ones

        // n GETs wait on those connections. Then a dies: each connection gets a FIN, which SocketsHttpHandler takes for a
        // keep-alive race on a reused connection, so it sends the GET again on a new connection, silently; and
        // connects to a now lose their SYN, so that resend would wait out the 10 s connect timeout.
        a.HoldPath = "/wait";
        var waiting = Enumerable.Range(0, n).Select(_ => client.GetAsync($"http://127.0.0.1:{port}/wait")).ToList();
        await Eventually.TrueAsync(() => a.Requests == 2 * n, "the GETs wait at a");
        node.Host.Faults.Set($"127.0.0.1:{a.Port}", new Fault(FaultKind.Loss, Percent: 100)); // connects only
        var killed = Stopwatch.StartNew();
        a.Kill();

        foreach (var get in waiting)
        {
            using var r = await get.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("hello from b", await r.Content.ReadAsStringAsync());
        }

        var answered = killed.Elapsed;
        var health = node.Host.Generation!.Services["svc"].Upstreams.Single(u => u.Name == "a").Health.Snapshot();
        Assert.True(answered < TimeSpan.FromSeconds(5), $"the GETs were answered {answered.TotalMilliseconds:0} ms after the kill (a's connect timeout is 10 s); a: {health.Reason}");
        Assert.Equal(HealthState.Down, health.State);
        Assert.Contains("went away", health.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnHttp10UpstreamThatClosesEveryConnectionAfterItsAnswer_IsNotTakenForGone()
    {
        // Without Proxy/Http10Close, SocketsHttpHandler sends the next request on such a connection and meets its close
        // every time (then sends the request again on a new one): under concurrent GETs, many closes under waiting
        // requests within 100 ms. Either guard alone keeps this upstream in.
        await using var a = new RawHttpUpstream("a") { Http10 = true };
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url}, tier: backup }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off");
        await using var node = await ProxyNode.StartAsync(yaml);
        var health = node.Host.Generation!.Services["svc"].Upstreams.Single(u => u.Name == "a").Health;
        await Eventually.TrueAsync(() => health.State == HealthState.Up, "a is up");
        var gone = new List<string>();
        health.Transitioned += t => { lock (gone) { if (t.Reason.Contains("went away", StringComparison.Ordinal)) { gone.Add(t.Reason); } } };

        using var client = new HttpClient();
        for (var round = 0; round < 40; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
            }));
        }

        Assert.True(a.Requests >= 280, $"a served the load ({a.Requests} requests)");
        Assert.Empty(gone);
    }
}
