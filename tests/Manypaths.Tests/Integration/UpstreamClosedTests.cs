using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>
/// A primary killed under waiting requests closes their pooled connections at once. SocketsHttpHandler sends each such
/// GET again on a new connection, whose connect is refused only a round trip later (250 ms at a distance: here the
/// connect is held 3 s by the fault layer). The node must see the close itself, eject the primary and send the
/// waiting requests to the backup at once.
/// </summary>
public sealed class UpstreamClosedTests
{
    [Fact]
    public async Task APrimaryThatClosesItsConnectionsUnderWaitingRequests_IsEjectedAtOnce_AndTheyAreServedByTheBackup()
    {
        await using var primary = ClosingUpstream.Start();
        await using var backup = await TestUpstream.StartAsync("backup");
        var (yaml, port) = Yaml.Service($"- {{ name: primary, url: http://127.0.0.1:{primary.Port} }}\n- {{ name: backup, url: {backup.Url}, tier: backup }}",
            "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\nhedge: off");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var url = $"http://127.0.0.1:{port}/work";
        for (var round = 0; round < 3; round++)
        {
            foreach (var warm in await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetAsync(url)))) // pooled connections to the primary
            {
                Assert.Equal("primary", warm.Headers.GetValues("X-Upstream").Single());
                warm.Dispose();
            }
        }

        primary.Hold = true;
        var clock = Stopwatch.StartNew();
        var waiting = Enumerable.Range(0, 4).Select(_ => client.GetAsync(url)).ToArray();

        // The four wait on their pooled connections for a while (longer than a request's own dial could take).
        await Eventually.TrueAsync(() => primary.Held >= 4 && clock.Elapsed > 2 * Manypaths.Proxy.UpstreamConnector.LateDial,
            "the primary holds the four requests", TimeSpan.FromSeconds(10));
        node.Host.Faults.Set($"127.0.0.1:{primary.Port}", new Fault(FaultKind.SlowConnect, Delay: TimeSpan.FromSeconds(3))); // new connects: a refusal 3 s away
        var killedAt = clock.Elapsed;
        primary.CloseEverything(); // a FIN on every connection, as a dying process's kernel sends, and nothing listens

        foreach (var response in await Task.WhenAll(waiting))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("backup", response.Headers.GetValues("X-Upstream").Single());
            response.Dispose();
        }

        var served = clock.Elapsed - killedAt;
        Assert.True(served < TimeSpan.FromSeconds(2), $"served by the backup {served.TotalMilliseconds:0} ms after the kill (the refusal would have taken 3 s)");
        var health = node.Host.Generation!.Services["svc"].Upstreams[0].Health.Snapshot();
        Assert.Equal(HealthState.Down, health.State);
        Assert.True(health.Reason.Contains("closed the connection before answering", StringComparison.Ordinal), health.Reason);
    }

    /// <summary>
    /// A raw HTTP/1.1 upstream on a free loopback port: answers every request, or, with <see cref="Hold"/>, reads it
    /// and holds it. <see cref="CloseEverything"/> stops listening and closes every connection after reading all it
    /// was sent, so the kernel sends a FIN (Kestrel's abort sends a reset, which SocketsHttpHandler reports at once).
    /// </summary>
    private sealed class ClosingUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, Demo.FreePort.Next());
        private readonly ConcurrentBag<Socket> _sockets = [];
        private readonly CancellationTokenSource _stop = new();
        private int _held;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public volatile bool Hold;

        public int Held => Volatile.Read(ref _held);

        public static ClosingUpstream Start()
        {
            var u = new ClosingUpstream();
            u._listener.Start();
            _ = u.AcceptAsync();
            return u;
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _sockets.Add(socket);
                _ = ServeAsync(socket);
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            var buffer = new byte[8192];
            var text = new StringBuilder();
            try
            {
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    text.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    while (text.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal) is var end and >= 0)
                    {
                        text.Remove(0, end + 4); // GETs only: no body
                        if (Hold)
                        {
                            Interlocked.Increment(ref _held);
                            continue;
                        }

                        await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream: primary\r\n\r\nok"), _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        public void CloseEverything()
        {
            _listener.Stop();
            foreach (var socket in _sockets)
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Send); // FIN: all it was sent was read
                }
                catch (SocketException)
                {
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            _stop.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
