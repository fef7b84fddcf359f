using System.Diagnostics;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>Relayed TCP: three real nodes in one process, a tcp service with relay: true in front of a real TCP server.</summary>
public sealed class RelayedTcpTests(ITestOutputHelper output)
{
    private const string Service = "mode: tcp\nhealth: { check: tcp, interval: 250ms, timeout: 200ms }";

    [Fact]
    public async Task BlackholedDirectPath_NewConnectionsGoThroughAPeer_AndNoCommandFailsAfterTheConnectRace()
    {
        await using var echo = EchoServer.Start("e");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: e, address: 127.0.0.1:{echo.Port} }}", Service);
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "e")?.State == HealthState.Up && n1.Mesh.Views.Get("n3", "svc", "e")?.State == HealthState.Up, "peers report e up");
        var port = cluster.ProxyPorts["n1"];
        using (var direct = await LineClient.ConnectAsync(port))
        {
            Assert.Equal("e: direct", await direct.AskAsync("direct"));
        }

        var echoAcceptedBefore = echo.Accepted;
        n1.Faults.Set($"127.0.0.1:{echo.Port}", new Fault(FaultKind.Blackhole));
        var clock = Stopwatch.StartNew();
        var failedBeforeRelay = 0;
        var failedAfter = 0;
        var answered = 0;
        TimeSpan? firstRelayed = null;
        // A client loop writing through n1 (each command waits 2 s at most, then the client reconnects): bounded in count and time.
        LineClient? c = null;
        for (var i = 0; i < 300 && clock.Elapsed < TimeSpan.FromSeconds(30); i++)
        {
            try
            {
                c ??= await LineClient.ConnectAsync(port);
                var answer = await c.AskAsync($"cmd{i}", TimeSpan.FromSeconds(2));
                if (answer != $"e: cmd{i}")
                {
                    throw new IOException($"answer '{answer}'");
                }

                answered++;
                firstRelayed ??= clock.Elapsed;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                if (firstRelayed is null)
                {
                    failedBeforeRelay++;
                }
                else
                {
                    failedAfter++;
                }

                c?.Dispose();
                c = null;
            }
        }

        c?.Dispose();
        output.WriteLine($"[report] relayed tcp (loopback, direct path blackholed): first answer through a peer {firstRelayed?.TotalMilliseconds:0} ms after the fault; " +
            $"{failedBeforeRelay} command(s) failed before (on the connection open when the fault began), {answered} answered, {failedAfter} failed after");
        Assert.NotNull(firstRelayed);
        Assert.Equal(0, failedAfter);
        Assert.True(answered >= 290, $"{answered} answered");
        Assert.True(echo.Accepted > echoAcceptedBefore, "the upstream took connections from a peer");
    }

    [Theory]
    [InlineData(FaultKind.Blackhole)]
    [InlineData(FaultKind.Reset)]
    public async Task RedisCommandsFlowThroughAPeersTunnel_WhenTheDirectPathIsBroken(FaultKind fault)
    {
        await using var redis = await RedisServers.StartAsync(replicas: 0);
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: r1, address: 127.0.0.1:{redis.Ports[0]} }}", "mode: tcp\nhealth: { check: redis-primary }", "n1", "n2");
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Views.Get("n2", "svc", "r1")?.State == HealthState.Up
            && n1.Generation!.Services["svc"].Upstreams[0].Health.State == HealthState.Up, "n1 and n2 both see r1 as the primary");
        // The in-process fault layer breaks our connects (not the role checks' own connection): a blackhole is left to
        // the connect race, a reset ejects the direct path at once, so the session's own path (through n2) must be
        // the one judged, not the direct one that is down.
        n1.Faults.Set($"127.0.0.1:{redis.Ports[0]}", new Fault(fault));
        using var c = await RespClient.ConnectAsync(cluster.ProxyPorts["n1"]);
        Assert.Equal("+OK", await c.CommandAsync("SET", "via", "peer"));
        Assert.Equal("peer", await c.CommandAsync("GET", "via"));
        Assert.Equal(1, n1.Generation!.Tcp["svc"].Connections.On("r1", "n2"));
    }

    [Fact]
    public async Task APeersTunnelReachesOnlyItsConfiguredUpstream_AndUnsignedTunnelsAreRefused()
    {
        await using var echo = EchoServer.Start("e");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: e, address: 127.0.0.1:{echo.Port} }}", Service, "n1", "n2");
        var mesh = cluster.MeshPorts["n2"];
        var signer = PeerSigner.FromFile(cluster.SecretPath);

        // No signature: refused before anything is connected.
        var (unsigned, _) = await TunnelAsync(mesh, "/_mesh/relay/svc/e", null);
        Assert.StartsWith("HTTP/1.1 401", unsigned, StringComparison.Ordinal);

        // Signed by a peer, but naming an address instead of a configured upstream: there is no such target.
        var (address, _) = await TunnelAsync(mesh, $"/_mesh/relay/svc/127.0.0.1:{echo.Port}", signer);
        Assert.StartsWith("HTTP/1.1 404", address, StringComparison.Ordinal);

        // Signed, naming the configured upstream: a tunnel to it.
        var (ok, stream) = await TunnelAsync(mesh, "/_mesh/relay/svc/e", signer);
        Assert.StartsWith("HTTP/1.1 101", ok, StringComparison.Ordinal);
        await stream!.WriteAsync("through\n"u8.ToArray());
        using var reader = new StreamReader(stream);
        Assert.Equal("e: through", await reader.ReadLineAsync());
    }

    /// <summary>Opens a connection to a mesh port and asks for a tunnel; the answer's head and, on 101, the stream.</summary>
    private static async Task<(string Head, Stream? Stream)> TunnelAsync(int meshPort, string target, PeerSigner? signer)
    {
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", meshPort);
        var stream = tcp.GetStream();
        var head = new System.Text.StringBuilder($"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: manypaths-tcp\r\n");
        if (signer is not null)
        {
            foreach (var (name, value) in RelayHeaders.Signed("GET", target, null, signer, "n1", 1, "", TimeProvider.System))
            {
                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }

        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()));
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!(buffer.Count >= 4 && buffer[^4] == '\r' && buffer[^3] == '\n' && buffer[^2] == '\r' && buffer[^1] == '\n') && await stream.ReadAsync(one) == 1)
        {
            buffer.Add(one[0]);
        }

        var text = System.Text.Encoding.ASCII.GetString(buffer.ToArray());
        if (!text.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            tcp.Dispose();
            return (text, null);
        }

        return (text, stream);
    }
}
