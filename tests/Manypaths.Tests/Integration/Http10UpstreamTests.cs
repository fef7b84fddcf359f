using System.Net;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>
/// An HTTP/1.0 upstream without keep-alive closes each connection after its answer, without saying so. Its connections
/// are not reused, so no request is written to a connection the server is closing (and reset with it).
/// </summary>
public sealed class Http10UpstreamTests
{
    [Fact]
    public async Task AnHttp10UpstreamsConnections_AreNotReused_SoNoRequestMeetsTheirClose()
    {
        // It closes 300 ms after each answer: a GET sent on the same connection meanwhile would be reset, and with one
        // upstream there is nowhere to retry it.
        await using var a = new RawHttpUpstream("a") { Http10 = true, CloseAfter = TimeSpan.FromMilliseconds(300) };
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off");
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams[0].Health.State == Manypaths.Health.HealthState.Up, "a is up");

        using var client = new HttpClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{port}/one-by-one");
            statuses.Add(r.StatusCode);
        }

        for (var round = 0; round < 10; round++)
        {
            statuses.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            {
                using var r = await client.GetAsync($"http://127.0.0.1:{port}/four-at-once");
                return r.StatusCode;
            })));
        }

        Assert.True(statuses.All(s => s == HttpStatusCode.OK), $"{statuses.Count(s => s != HttpStatusCode.OK)} failed; {a.MetTheClose} met the close; {a.Requests} requests on {a.Connections} connections");
        Assert.Equal(0, a.MetTheClose);
        Assert.Equal(60, a.Requests); // each sent once
        Assert.Equal(60, a.Connections); // one connection per answer
    }
}
