using System.Net;
using System.Net.WebSockets;
using System.Text;
using Manypaths.Health;
using Manypaths.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Integration;

public sealed class ProtocolTests
{
    [Fact]
    public async Task Http2Upstream_IsSpokenToWithH2c_AndWebSocketsAndStreamingPassThrough()
    {
        var port = Demo.FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        await using var h2 = builder.Build();
        h2.Run(c => c.Response.WriteAsync(c.Request.Protocol));
        await h2.StartAsync();

        var wsPort = Demo.FreePort.Next();
        var wsBuilder = WebApplication.CreateSlimBuilder();
        wsBuilder.Logging.ClearProviders();
        wsBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, wsPort));
        await using var ws = wsBuilder.Build();
        ws.UseWebSockets();
        ws.Run(async c =>
        {
            if (c.Request.Path == "/healthz")
            {
                return;
            }

            if (c.Request.Path == "/stream")
            {
                for (var i = 0; i < 3; i++)
                {
                    await c.Response.WriteAsync($"chunk{i};");
                    await c.Response.Body.FlushAsync();
                }

                return;
            }

            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            var got = await socket.ReceiveAsync(buffer, CancellationToken.None);
            await socket.SendAsync(buffer.AsMemory(0, got.Count), WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        });
        await ws.StartAsync();

        var (yaml, proxy) = Yaml.Service($"- {{ name: h2, url: http://127.0.0.1:{port} }}", "http_version: 2\nhealth: { interval: 1h, fast_interval: 1h, timeout: 10s, expect_status: [ 200-499 ] }");
        var wsProxy = Demo.FreePort.Next();
        yaml += $"""

              ws:
                listen: 127.0.0.1:{wsProxy}
                upstreams: [ {"{"} name: w, url: http://127.0.0.1:{wsPort} {"}"} ]
            """;
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();

        Assert.Equal("HTTP/2", await client.GetStringAsync($"http://127.0.0.1:{proxy}/"));
        Assert.Equal("chunk0;chunk1;chunk2;", await client.GetStringAsync($"http://127.0.0.1:{wsProxy}/stream"));

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{wsProxy}/echo"), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("ping through manypaths"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1024];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("ping through manypaths", Encoding.UTF8.GetString(buffer, 0, result.Count));
    }

    [Fact]
    public async Task FirstByteTimeout_OnAnIdempotentRequest_IsRetriedOnAnotherUpstream()
    {
        await using var slow = await TestUpstream.StartAsync("slow");
        await using var fast = await TestUpstream.StartAsync("fast");
        slow.Behaviour = UpstreamBehaviour.Slow;
        slow.SlowDelay = TimeSpan.FromSeconds(5);
        var (yaml, port) = Yaml.Service($"- {{ name: slow, url: {slow.Url}, weight: 100 }}\n- {{ name: fast, url: {fast.Url} }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\ntimeouts: { first_byte: 300ms }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("fast", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/"));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(4), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task ActiveCheck_ExpectBodyAndHost_AreEnforced()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {up.Url} }}",
            "health: { path: /healthz, interval: 1s, fast_interval: 100ms, timeout: 1s, fall: 1, rise: 1, expect_body: \"all good\", host: health.internal }");
        await using var node = await ProxyNode.StartAsync(yaml);
        var health = node.Host.Generation!.Services["svc"].Upstreams[0].Health;
        await Eventually.TrueAsync(() => health.State == HealthState.Down && health.Snapshot().Reason.Contains("without 'all good'", StringComparison.Ordinal),
            "a 200 without the expected body fails the check");
    }
}
