using System.Net;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>Connect races over real sockets: the first connection wins, and the request is sent on it only.</summary>
public sealed class ConnectRaceTests
{
    [Fact]
    public async Task ASlowConnect_IsRacedBesideIt_AndWhenItConnectsSecond_ItsGetIsNotSentAtAll()
    {
        await using var slowToConnect = await TestUpstream.StartAsync("a");
        await using var other = await TestUpstream.StartAsync("b");
        // b connects at once but answers late; a's connects take 600 ms and its reads 600 ms more. Were a's GET sent
        // once its connect ended, it would answer first (about 1.2 s against 2 s).
        other.Behaviour = UpstreamBehaviour.Slow;
        other.SlowDelay = TimeSpan.FromMilliseconds(1800);
        other.SlowOnlyWhen = r => r.Path != "/healthz";
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {slowToConnect.Url}, weight: 1000 }}\n- {{ name: b, url: {other.Url}, weight: 1 }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off\nwarm_standby: false"); // a race, nothing else
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both upstreams are up");
        node.Host.Faults.Set($"127.0.0.1:{slowToConnect.Port}", new Fault(FaultKind.Delay, Delay: TimeSpan.FromMilliseconds(600)));

        using var client = new HttpClient();
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/quote");
        var metrics = await client.GetStringAsync(new Uri(node.Admin, "metrics"));
        var attempts = string.Join("\n", metrics.Split('\n').Where(l => l.StartsWith("manypaths_upstream_attempts", StringComparison.Ordinal) || l.StartsWith("manypaths_connect_races", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.True(await r.Content.ReadAsStringAsync() == "hello from b", "b answered, not a:\n" + attempts);
        Assert.True(slowToConnect.Requests == 0, "its connect ended 1.2 s before b answered, and carried nothing:\n" + attempts);
        Assert.Contains("manypaths_connect_races_total{service=\"svc\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_upstream_attempts_total{service=\"svc\",upstream=\"a\",result=\"lost_race\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequestThePoolServesOnAConnectionThatCameFree_IsNotRaced_ThoughItsOwnConnectIsStillPending()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        a.Behaviour = UpstreamBehaviour.Slow;
        a.SlowDelayOf = r => TimeSpan.FromMilliseconds(r.Path == "/first" ? 100 : 500);
        a.SlowOnlyWhen = r => r.Path != "/healthz";
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url}, weight: 1000 }}\n- {{ name: b, url: {b.Url}, weight: 1 }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off\nwarm_standby: false");
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both upstreams are up");

        // The first GET holds the one pooled connection to a for 100 ms. New connects to a then lose their SYN, so the
        // second GET waits in the pool with a connect of its own pending, and is sent on the first GET's connection once
        // that comes free, long before its 250 ms race time. a answers it after 500 ms: a race would send it to b too.
        using var client = new HttpClient();
        var slow = client.GetAsync($"http://127.0.0.1:{port}/first");
        await Eventually.TrueAsync(() => a.Requests == 1, "the first GET reached a");
        node.Host.Faults.Set($"127.0.0.1:{a.Port}", new Fault(FaultKind.Loss, Percent: 100)); // connects only: open connections carry on
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/quote");
        using var first = await slow;
        var metrics = await client.GetStringAsync(new Uri(node.Admin, "metrics"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("hello from a", await r.Content.ReadAsStringAsync());
        Assert.True(b.Requests == 0, "the GET was sent once, to a, on the connection that came free");
        Assert.Equal(2, a.Requests);
        Assert.DoesNotContain("manypaths_connect_races_total{service=\"svc\"}", metrics, StringComparison.Ordinal);
    }
}
