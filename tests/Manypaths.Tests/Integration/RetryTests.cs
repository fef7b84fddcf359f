using System.Net;
using System.Text;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Integration;

public sealed class RetryTests(ITestOutputHelper output)
{
    private const string SlowHealth = "health: { interval: 1h, fast_interval: 1h, timeout: 10s }";

    [Fact]
    public async Task Post_ThatReachedAnUpstream_IsNeverSentAgain()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        a.Behaviour = UpstreamBehaviour.AbortAfterRead;
        b.Behaviour = UpstreamBehaviour.AbortAfterRead;
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}", SlowHealth + "\nretries: 2");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();

        using var response = await client.PostAsync($"http://127.0.0.1:{port}/orders", new StringContent("{\"order\":1}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, a.Requests + b.Requests);
    }

    [Fact]
    public async Task Post_OnAReusedKeepAliveConnection_ThatTheUpstreamDropped_IsNotResentByTheHttpStack()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}", SlowHealth + "\nretries: 2");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync($"http://127.0.0.1:{port}/warm")).Dispose(); // pooled keep-alive connections to a
        }

        a.Behaviour = UpstreamBehaviour.AbortAfterRead;
        using var response = await client.PostAsync($"http://127.0.0.1:{port}/orders", new StringContent("once"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, a.Seen.Count(s => s.Method == "POST"));
    }

    [Fact]
    public async Task Get_ThatBrokeAfterSending_IsRetriedElsewhere()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        a.Behaviour = UpstreamBehaviour.AbortAfterRead;
        b.Behaviour = UpstreamBehaviour.AbortAfterRead;
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}", SlowHealth + "\nretries: 2");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        b.Behaviour = UpstreamBehaviour.Ok;
        a.Behaviour = UpstreamBehaviour.AbortAfterRead;
        for (var i = 0; i < 10; i++)
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{port}/x");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
    }

    [Fact]
    public async Task Post_AfterConnectionRefused_IsRetriedOnAnotherUpstream_Once()
    {
        await using var alive = await TestUpstream.StartAsync("alive");
        var dead = new TestUpstream("dead");
        var (yaml, port) = Yaml.Service($"- {{ name: dead, url: {dead.Url} }}\n- {{ name: alive, url: {alive.Url} }}", SlowHealth + "\nretries: 1");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var ok = 0;
        for (var i = 0; i < 20; i++)
        {
            using var r = await client.PostAsync($"http://127.0.0.1:{port}/pay", new StringContent($"payment {i}"));
            ok += r.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        Assert.Equal(20, ok);
        Assert.Equal(20, alive.Requests);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"payment {i}"), alive.Seen.Select(s => s.Body));
    }

    [Fact]
    public async Task Retry_UsesTheNextUpstreamsOwnBasePath_AndKeepsTheQuery()
    {
        await using var alive = await TestUpstream.StartAsync("alive");
        var dead = new TestUpstream("dead");
        var (yaml, port) = Yaml.Service($"- {{ name: dead, url: {dead.Url}/dead-base, weight: 1000 }}\n- {{ name: alive, url: {alive.Url}/alive-base/ }}", SlowHealth + "\nretries: 1");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/orders/7?expand=lines");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("/alive-base/orders/7?expand=lines", alive.Seen.Single(s => !s.Path.EndsWith("/healthz", StringComparison.Ordinal)).Path);
    }

    [Fact]
    public async Task LargeStreamedPost_AfterConnectionRefused_IsStillRetriedBecauseNoByteLeft()
    {
        await using var alive = await TestUpstream.StartAsync("alive");
        var dead = new TestUpstream("dead");
        var (yaml, port) = Yaml.Service($"- {{ name: dead, url: {dead.Url}, weight: 1000 }}\n- {{ name: alive, url: {alive.Url} }}", SlowHealth + "\nretries: 1\nmax_replay_body: 1KiB");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var big = new string('x', 200_000);
        using var r = await client.PostAsync($"http://127.0.0.1:{port}/upload", new StringContent(big));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(big.Length, alive.Seen.Single().Body.Length);
    }

    [Fact]
    public async Task RetryBudget_HoldsUnderTotalOutage()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        await using var c = await TestUpstream.StartAsync("c");
        foreach (var u in new[] { a, b, c })
        {
            u.Behaviour = UpstreamBehaviour.Status503;
        }

        // Passive ejection off (huge threshold) so every request really reaches an upstream and asks for retries.
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}\n- {{ name: c, url: {c.Url} }}",
            SlowHealth + "\nretries: 2\nretry_budget: { ratio: 0.2, min_per_second: 1 }\npassive: { failures: 1000 }\nhedge: off"); // the hedge budget is tested on its own
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        const int requests = 400;
        var tasks = Enumerable.Range(0, requests).Select(async _ =>
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
            return (int)r.StatusCode;
        });
        var statuses = await Task.WhenAll(tasks);

        Assert.All(statuses, s => Assert.Equal(503, s));
        var attempts = a.Requests + b.Requests + c.Requests;
        var metrics = await client.GetStringAsync(new Uri(node.Admin, "metrics"));
        var counts = string.Join("\n", metrics.Split('\n').Where(l => l.StartsWith("manypaths_upstream_attempts", StringComparison.Ordinal)
            || l.StartsWith("manypaths_connect_races", StringComparison.Ordinal) || l.StartsWith("manypaths_retries", StringComparison.Ordinal)));
        // Without a budget this would be 3 x 400 = 1200 attempts: 400 first tries, and at most 20% + 10 retries.
        long Sum(string name, string? label = null) => PrometheusText.Sum(metrics, name, label);
        output.WriteLine($"[report] retry budget under total outage: {requests} GETs at once, {attempts} reached the upstreams (budget: at most {(int)(requests * 1.2) + 10}); " +
            $"retries {Sum("manypaths_retries_total")}, denied {Sum("manypaths_retries_denied_total")}; connect races {Sum("manypaths_connect_races_total")}, " +
            $"{Sum("manypaths_upstream_attempts_total", "result=\"lost_race\"")} attempts lost theirs and sent nothing");
        Assert.True(attempts >= requests && attempts <= (int)(requests * 1.2) + 10 + 1, $"{attempts} requests reached the upstreams:\n{counts}");
    }

    [Fact]
    public async Task UpstreamSpoofingMeshHeaders_CannotMakeAPostBeSentTwice()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        a.ExtraResponseHeaders["X-Manypaths-Unreached"] = "1";
        b.ExtraResponseHeaders["X-Manypaths-Unreached"] = "1";
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}", SlowHealth + "\nretries: 2");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        using var r = await client.PostAsync($"http://127.0.0.1:{port}/pay", new StringContent("once"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.False(r.Headers.Contains("X-Manypaths-Unreached"));
        Assert.Equal(1, a.Seen.Count(s => s.Method == "POST") + b.Seen.Count(s => s.Method == "POST"));
    }
}
