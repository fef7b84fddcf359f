using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

public sealed class SorryAndSwitchTests
{
    private static async Task<(ProxyNode Node, int Port, TestUpstream Up)> Start(string extra = "")
    {
        var up = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}", "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms, fall: 1 }\n" + extra);
        return (await ProxyNode.StartAsync(yaml), port, up);
    }

    [Fact]
    public async Task NothingHealthy_SorryPage_ForHtmlJsonAndHead()
    {
        var (node, port, up) = await Start("sorry: { retry_after: 45s }");
        await using var _ = node;
        await up.KillAsync();
        using var client = new HttpClient();
        var url = $"http://127.0.0.1:{port}/page";

        using var html = await Send(client, HttpMethod.Get, url, "text/html");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, html.StatusCode);
        Assert.Equal("45", html.Headers.RetryAfter!.Delta!.Value.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("text/html", html.Content.Headers.ContentType!.MediaType);
        Assert.Contains("We'll be right back", await html.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var json = await Send(client, HttpMethod.Get, url, "application/json");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, json.StatusCode);
        using var doc = JsonDocument.Parse(await json.Content.ReadAsStringAsync());
        Assert.Equal("service_unavailable", doc.RootElement.GetProperty("error").GetString());
        Assert.Equal(45, doc.RootElement.GetProperty("retry_after_seconds").GetInt32());

        using var head = await Send(client, HttpMethod.Head, url, "text/html");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task NothingHealthy_TriesTheLeastBadUpstreamOnce_BecauseHealthDataCanBeWrong()
    {
        var (node, port, up) = await Start();
        await using var _ = node;
        await using var __ = up;
        up.HealthOk = false; // the check says down, but real requests would still work
        var health = node.Host.Generation!.Services["svc"].Upstreams[0].Health;
        await Eventually.TrueAsync(() => health.State == Manypaths.Health.HealthState.Down, "the check marks it down");
        using var client = new HttpClient();
        Assert.Equal("a", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/"));
    }

    [Fact]
    public async Task SorryPage_UsesTheConfiguredFile()
    {
        var up = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}", "sorry: { file: sorry.html }");
        await using var node = await ProxyNodeWithFile(yaml, "sorry.html", "<html><body>Acme is down for a moment</body></html>");
        await up.KillAsync();
        using var client = new HttpClient();
        using var r = await Send(client, HttpMethod.Get, $"http://127.0.0.1:{port}/", "text/html");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        Assert.Equal("<html><body>Acme is down for a moment</body></html>", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WholeRequestTimeout_Answers504()
    {
        var (node, port, up) = await Start("timeouts: { request: 300ms, first_byte: 10s }");
        await using var _ = node;
        await using var __ = up;
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(5);
        using var client = new HttpClient();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
        Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task WholeRequestTimeout_WhileTheConnectIsStalled_Answers504_NotTheSorryPage()
    {
        // The request never left, but the client waited the whole timeout: that is a gateway timeout, not "down".
        var (node, port, up) = await Start("timeouts: { request: 300ms, connect: 5s }");
        await using var _ = node;
        await using var __ = up;
        node.Host.Faults.Set($"127.0.0.1:{up.Port}", new Manypaths.Mesh.Fault(Manypaths.Mesh.FaultKind.Delay, Delay: TimeSpan.FromSeconds(3)));
        using var client = new HttpClient();
        for (var i = 0; i < 3; i++)
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
            Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
        }
    }

    private static async Task<ProxyNode> ProxyNodeWithFile(string yaml, string name, string content)
    {
        return await ProxyNode.StartAsync(yaml, files: new Dictionary<string, string> { [name] = content });
    }

    [Fact]
    public async Task SorryRedirect_SendsBrowsersElsewhereInstantly()
    {
        var (node, port, up) = await Start("sorry: { redirect: \"https://status.example.com/\" }");
        await using var _ = node;
        await up.KillAsync();
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
        Assert.Equal(HttpStatusCode.Found, r.StatusCode);
        Assert.Equal("https://status.example.com/", r.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Maintenance_NeedsTheToken_ThenServesTheSorryPageWithMessage_AndTurnsOff()
    {
        var (node, port, up) = await Start();
        await using var _ = node;
        await using var __ = up;
        using var client = new HttpClient();
        var admin = new Uri(node.Admin, "api/services/svc/maintenance");

        using var noToken = await client.PostAsync(admin, JsonBody("{\"message\":\"upgrading\"}"));
        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        using var wrong = await Admin(client, HttpMethod.Post, admin, "wrong-token", "{}");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ServeStatus(client, port)));

        using var tooLong = await Admin(client, HttpMethod.Post, admin, ProxyNode.Token, $"{{\"message\":\"{new string('x', 501)}\"}}");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode); // it would not fit the heartbeats that carry it
        Assert.Contains("at most 500", await tooLong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var tooManyBytes = await Admin(client, HttpMethod.Post, admin, ProxyNode.Token, $"{{\"message\":\"{new string('维', 400)}\"}}");
        Assert.Equal(HttpStatusCode.BadRequest, tooManyBytes.StatusCode); // 400 characters, but 1,200 bytes: one heartbeat datagram would not hold it
        Assert.Contains("1000 bytes", await tooManyBytes.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await ServeStatus(client, port)));

        var requestsBefore = up.Requests;
        using var on = await Admin(client, HttpMethod.Post, admin, ProxyNode.Token, "{\"message\":\"Upgrading the database\",\"until\":\"30m\"}");
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        using var sorry = await Send(client, HttpMethod.Get, $"http://127.0.0.1:{port}/", "text/html");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, sorry.StatusCode);
        Assert.Contains("Upgrading the database", await sorry.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.InRange(sorry.Headers.RetryAfter!.Delta!.Value.TotalMinutes, 29, 30.1);
        var requestsDuringMaintenance = up.Requests - requestsBefore;

        using var off = await Admin(client, HttpMethod.Delete, admin, ProxyNode.Token, null);
        Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await ServeStatus(client, port));
        Assert.Equal(0, requestsDuringMaintenance);
    }

    [Fact]
    public async Task Drain_StopsNewRequestsToThatUpstream_UndrainRestores()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}", "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var drain = new Uri(node.Admin, "api/services/svc/upstreams/a/drain");

        using var d = await Admin(client, HttpMethod.Post, drain, ProxyNode.Token, null);
        Assert.Equal(HttpStatusCode.OK, d.StatusCode);
        var before = a.Requests;
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal("b", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/"));
        }

        Assert.Equal(before, a.Requests);
        using var unknown = await Admin(client, HttpMethod.Post, new Uri(node.Admin, "api/services/svc/upstreams/zz/drain"), ProxyNode.Token, null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using var u = await Admin(client, HttpMethod.Delete, drain, ProxyNode.Token, null);
        Assert.Equal(HttpStatusCode.OK, u.StatusCode);
        await Eventually.TrueAsync(async () => await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/") == "a", "a serves again");
    }

    [Fact]
    public async Task ProxyHeaders_AreSet_AndRoutesSplitOneListener()
    {
        await using var control = await TestUpstream.StartAsync("control");
        await using var local = await TestUpstream.StartAsync("local");
        var app = Demo.FreePort.Next();
        var (yaml, _) = Yaml.Service($"- {{ name: c, url: {control.Url} }}");
        yaml += $"""

              local:
                listen: 127.0.0.1:{Demo.FreePort.Next()}
                upstreams: [ {"{"} name: l, url: {local.Url} {"}"} ]
            listeners:
              app:
                listen: 127.0.0.1:{app}
                routes:
                  - {"{"} path: /auth/, service: svc {"}"}
                  - {"{"} path: /, service: local {"}"}
            """;
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        Assert.Equal("control", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{app}/auth/login"));
        Assert.Equal("local", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{app}/orders"));
        var seen = control.Seen.Single().Headers;
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("http", seen["X-Forwarded-Proto"]);
        Assert.Equal($"127.0.0.1:{app}", seen["X-Forwarded-Host"]);
        Assert.Equal("1.1 manypaths-n1", seen["Via"]);
    }

    private static async Task<HttpStatusCode> ServeStatus(HttpClient client, int port)
    {
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
        return r.StatusCode;
    }

    private static StringContent JsonBody(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> Admin(HttpClient client, HttpMethod method, Uri url, string token, string? json)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null)
        {
            request.Content = JsonBody(json);
        }

        return client.SendAsync(request);
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, string accept)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Accept.ParseAdd(accept);
        return client.SendAsync(request);
    }
}
