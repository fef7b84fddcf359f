using System.Net;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>Hedged requests: the first answer wins, the slower attempt is cancelled, and POST is never hedged.</summary>
public sealed class HedgingTests
{
    private const string Hedged = "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: { delay: 100ms, max_attempts: 2 }";

    private static async Task<(ProxyNode Node, int Port, TestUpstream Slow, TestUpstream Fast)> StartAsync()
    {
        var slow = await TestUpstream.StartAsync("slow");
        var fast = await TestUpstream.StartAsync("fast");
        slow.Behaviour = UpstreamBehaviour.Slow;
        slow.SlowDelay = TimeSpan.FromSeconds(3);
        slow.SlowOnlyWhen = r => r.Path != "/healthz"; // slow to answer requests, not probes: both are up
        // The slow one is picked first (weight), so only a hedge can make the answer fast. Both must be up first: an
        // upstream still unknown loses to one already up (it failed once when the slow probe was still out).
        var (yaml, port) = Yaml.Service($"- {{ name: slow, url: {slow.Url}, weight: 1000 }}\n- {{ name: fast, url: {fast.Url}, weight: 1 }}", Hedged);
        var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both upstreams are up");
        return (node, port, slow, fast);
    }

    [Fact]
    public async Task HedgedGet_ReturnsTheFasterAnswer_AndCancelsTheSlowerAttempt()
    {
        var (node, port, slow, fast) = await StartAsync();
        await using var _ = node;
        await using var __ = slow;
        await using var ___ = fast;
        using var client = new HttpClient();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("fast", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/quote"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal(1, slow.Requests);
        await Eventually.TrueAsync(() => slow.Cancelled == 1, "the slower attempt is cancelled, its connection cleaned up");
    }

    [Fact]
    public async Task Post_IsNeverHedged()
    {
        var (node, port, slow, fast) = await StartAsync();
        await using var _ = node;
        await using var __ = slow;
        await using var ___ = fast;
        slow.SlowDelay = TimeSpan.FromMilliseconds(800);
        using var client = new HttpClient();
        using var r = await client.PostAsync($"http://127.0.0.1:{port}/orders", new StringContent("one order"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("slow", r.Headers.GetValues("X-Upstream").Single());
        Assert.Equal(0, fast.Requests);
    }
}
