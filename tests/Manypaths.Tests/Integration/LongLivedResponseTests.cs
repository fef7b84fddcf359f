using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Manypaths.Demo;
using Manypaths.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Integration;

/// <summary>
/// Streams and WebSockets outlive 'timeouts.request' while they keep talking ('timeouts.idle' governs once the
/// response has started), a silent one is cut after 'idle', and a reload never cuts one short.
/// </summary>
public sealed class LongLivedResponseTests
{
    /// <summary>
    /// A real Kestrel upstream: /ticks writes a chunk every 100 ms (?n= chunks), /silent writes one chunk and then
    /// says nothing until the proxy gives up, /ws echoes one WebSocket message 1.5 s after it arrives.
    /// </summary>
    private sealed class StreamingUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _silentAborted;

        private StreamingUpstream(WebApplication app, int port)
        {
            _app = app;
            Url = $"http://127.0.0.1:{port}";
        }

        public string Url { get; }
        public bool SilentAborted => Volatile.Read(ref _silentAborted) == 1;

        public static async Task<StreamingUpstream> StartAsync()
        {
            var port = Demo.FreePort.Next();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
            var app = builder.Build();
            var upstream = new StreamingUpstream(app, port);
            app.UseWebSockets();
            app.Run(upstream.HandleAsync);
            await app.StartAsync();
            return upstream;
        }

        private async Task HandleAsync(HttpContext c)
        {
            var pace = TimeSpan.FromMilliseconds(100);
            switch (c.Request.Path.Value)
            {
                case "/healthz":
                    await c.Response.WriteAsync("ok");
                    return;
                case "/ticks":
                    var n = int.Parse(c.Request.Query["n"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                    for (var i = 0; i < n; i++)
                    {
                        await c.Response.WriteAsync($"tick{i};", c.RequestAborted);
                        await c.Response.Body.FlushAsync(c.RequestAborted);
                        await Task.Delay(pace, TimeProvider.System, c.RequestAborted);
                    }

                    return;
                case "/silent":
                    await c.Response.WriteAsync("hello;", c.RequestAborted);
                    await c.Response.Body.FlushAsync(c.RequestAborted);
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(30), TimeProvider.System, c.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                        Volatile.Write(ref _silentAborted, 1);
                    }

                    return;
                default:
                    using (var socket = await c.WebSockets.AcceptWebSocketAsync())
                    {
                        var buffer = new byte[1024];
                        var got = await socket.ReceiveAsync(buffer, CancellationToken.None);
                        await Task.Delay(EchoAfter, TimeProvider.System);
                        await socket.SendAsync(buffer.AsMemory(0, got.Count), WebSocketMessageType.Text, true, CancellationToken.None);
                        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    }

                    return;
            }
        }

        public async ValueTask DisposeAsync() => await _app.StopNowAsync();
    }

    /// <summary>How long the simulated WebSocket app thinks before it answers: longer than the request timeout.</summary>
    private static readonly TimeSpan EchoAfter = TimeSpan.FromSeconds(1.5);

    private static string Ticks(int n) => string.Concat(Enumerable.Range(0, n).Select(i => $"tick{i};"));

    private static async Task<(ProxyNode Node, int Port, StreamingUpstream Up, string Yaml)> Start(string timeouts)
    {
        var up = await StreamingUpstream.StartAsync();
        var (yaml, port) = Yaml.Service($"- {{ name: s, url: {up.Url} }}", $"health: {{ interval: 1h, fast_interval: 1h, timeout: 10s }}\ntimeouts: {timeouts}");
        return (await ProxyNode.StartAsync(yaml), port, up, yaml);
    }

    [Fact]
    public async Task Stream_LongerThanTheRequestTimeout_ArrivesWhole_WhileItKeepsTalking()
    {
        var (node, port, up, _) = await Start("{ request: 1s, idle: 2s }");
        await using var _ = node;
        await using var __ = up;
        using var client = new HttpClient();

        var started = Stopwatch.StartNew();
        Assert.Equal(Ticks(25), await client.GetStringAsync($"http://127.0.0.1:{port}/ticks?n=25"));
        Assert.True(started.Elapsed > TimeSpan.FromSeconds(2), $"the stream took {started.Elapsed}, so it did outlive the 1s request timeout");
    }

    [Fact]
    public async Task SilentStream_IsCutAfterTheIdleTimeout_AndTheUpstreamConnectionIsClosed()
    {
        var (node, port, up, _) = await Start("{ request: 1s, idle: 2s }");
        await using var _ = node;
        await using var __ = up;
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        using var response = await client.GetAsync($"http://127.0.0.1:{port}/silent", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        Assert.Equal("hello;", Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer)));

        var silence = Stopwatch.StartNew();
        var cut = await Record.ExceptionAsync(async () =>
        {
            while (await body.ReadAsync(buffer) > 0)
            {
            }
        });
        Assert.IsAssignableFrom<IOException>(cut); // the client sees a broken response, not a clean end
        Assert.InRange(silence.Elapsed, TimeSpan.FromMilliseconds(1800), TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => up.SilentAborted, "the upstream side of the silent stream was closed too");
    }

    [Fact]
    public async Task WebSocket_OutlivesTheRequestTimeout()
    {
        var (node, port, up, _) = await Start("{ request: 1s, idle: 5s }");
        await using var _ = node;
        await using var __ = up;

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("still there?"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1024];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None); // the echo comes 1.5 s later
        Assert.Equal("still there?", Encoding.UTF8.GetString(buffer, 0, result.Count));
    }

    [Fact]
    public async Task Reload_WhileAStreamIsOpen_LetsItFinishOnTheOldGeneration()
    {
        var (node, port, up, yaml) = await Start("{ request: 1s, idle: 3s }");
        await using var _ = node;
        await using var __ = up;
        using var client = new HttpClient();

        // 40 ticks take 4 s: well past the old generation's retirement (request timeout + 1 s after the reload).
        using var response = await client.GetAsync($"http://127.0.0.1:{port}/ticks?n=40", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var received = new StringBuilder();
        var buffer = new byte[256];
        received.Append(Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer)));

        await File.WriteAllTextAsync(node.ConfigPath, yaml + "\n    retries: 1\n");
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None)).Ok);
        Assert.Equal(2, node.Host.Generation!.Number);

        int got;
        while ((got = await body.ReadAsync(buffer)) > 0)
        {
            received.Append(Encoding.UTF8.GetString(buffer, 0, got));
        }

        Assert.Equal(Ticks(40), received.ToString());
    }
}
