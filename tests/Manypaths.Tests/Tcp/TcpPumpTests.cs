using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>
/// The bytes of a direct TCP session as the epoll pump carries them: whole and in order under backpressure, with
/// half-closes passed on, and handed to the fault layer when a drill begins mid-session.
/// </summary>
public sealed class TcpPumpTests(ITestOutputHelper output)
{
    /// <summary>Checks far apart: nothing in these tests may be judged by a probe.</summary>
    private const string QuietHealth = "health: { check: tcp, interval: 30s, timeout: 1s, rise: 1, fall: 3 }";

    [Fact]
    public async Task FourMegabytesEchoedThroughTheProxy_ComeBackWholeAndInOrder_AndEachEndOfDataIsPassedOn()
    {
        await using var echo = RawEcho.Start();
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{echo.Port} }}", "mode: tcp\n" + QuietHealth);
        await using var node = await ProxyNode.StartAsync(yaml);

        var payload = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(payload);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Writing and reading at once: 4 MB is far more than every buffer on the way, so the pump has to stop reading
        // when its destination is full and go on when it drains.
        var write = Task.Run(async () =>
        {
            for (var sent = 0; sent < payload.Length; sent += 64 * 1024)
            {
                await client.SendAsync(payload.AsMemory(sent, Math.Min(64 * 1024, payload.Length - sent)), SocketFlags.None, deadline.Token);
            }

            client.Shutdown(SocketShutdown.Send); // the client's end of data: the server must see it through the proxy
        });
        var received = new MemoryStream();
        var buffer = new byte[1500]; // small reads: the client is the slow side
        while (true)
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (n == 0)
            {
                break; // the server's end of data, after it saw the client's
            }

            received.Write(buffer, 0, n);
        }

        await write;
        output.WriteLine($"[report] tcp pump: {received.Length:N0} of {payload.Length:N0} bytes echoed back");
        Assert.Equal(payload.Length, received.Length);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.ToArray()));
        Assert.True(echo.SawEndOfData, "the server saw the client's half-close");
    }

    [Fact]
    public async Task ABlackholeDrillBegunMidSession_HoldsItsBytesBack_AndTheyArriveWhenItEnds()
    {
        await using var a = EchoServer.Start("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{a.Port} }}", "mode: tcp\n" + QuietHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await stream.WriteAsync("before\n"u8.ToArray(), deadline.Token);
        Assert.Equal("a: before", await reader.ReadLineAsync(deadline.Token));

        node.Host.Faults.Set($"127.0.0.1:{a.Port}", new Fault(FaultKind.Blackhole));
        await stream.WriteAsync("during\n"u8.ToArray(), deadline.Token);
        var answer = reader.ReadLineAsync(deadline.Token).AsTask();
        // A blackhole loses nothing and delivers nothing: a second with no answer shows the session went through it.
        var first = await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System));
        Assert.NotSame(answer, first);

        node.Host.Faults.Clear($"127.0.0.1:{a.Port}");
        Assert.Equal("a: during", await answer);
        await stream.WriteAsync("after\n"u8.ToArray(), deadline.Token);
        Assert.Equal("a: after", await reader.ReadLineAsync(deadline.Token));
    }

    /// <summary>A server on a free loopback port that echoes every byte of a connection until its end of data, then ends its own.</summary>
    private sealed class RawEcho : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Task _serving;

        private RawEcho(TcpListener listener)
        {
            _listener = listener;
            _serving = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public volatile bool SawEndOfData;

        public static RawEcho Start()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return new RawEcho(listener);
        }

        /// <summary>Every connection (the health check's too) is served; only one that carried data counts its end.</summary>
        private async Task ServeAsync()
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync();
                _ = Task.Run(() => EchoAsync(socket));
            }
        }

        private async Task EchoAsync(Socket socket)
        {
            using (socket)
            {
                var buffer = new byte[32 * 1024];
                var any = false;
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                    if (n == 0)
                    {
                        SawEndOfData |= any;
                        socket.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    any = true;
                    for (var sent = 0; sent < n;)
                    {
                        sent += await socket.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None);
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await _serving;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
