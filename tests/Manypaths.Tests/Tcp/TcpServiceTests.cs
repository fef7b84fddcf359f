using Xunit.Abstractions;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Tcp;

/// <summary>A mode: tcp service in a real node, in front of real TCP servers on loopback.</summary>
public sealed class TcpServiceTests(ITestOutputHelper output)
{
    private const string FastTcpHealth = "health: { check: tcp, interval: 200ms, fast_interval: 50ms, timeout: 200ms, rise: 1, fall: 1 }";

    [Fact]
    public async Task BytesFlowBothWays_AndANewConnectionAvoidsAStoppedUpstream()
    {
        await using var a = EchoServer.Start("a");
        await using var b = EchoServer.Start("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{a.Port} }}\n- {{ name: b, address: 127.0.0.1:{b.Port}, tier: backup }}", "mode: tcp\n" + FastTcpHealth);
        await using var node = await ProxyNode.StartAsync(yaml);

        using (var c = await LineClient.ConnectAsync(port))
        {
            Assert.Equal("a: hello", await c.AskAsync("hello"));
            Assert.Equal("a: again", await c.AskAsync("again")); // one connection, many exchanges
        }

        await a.StopAsync();
        // The very next connection goes to the backup: a refused connect is retried there at once.
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var c = await LineClient.ConnectAsync(port))
        {
            Assert.Equal("b: after", await c.AskAsync("after"));
        }

        output.WriteLine($"[report] tcp: the first connection after the primary stopped answered from the backup in {started.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task AClientOverItsLimitIsClosed_OthersAreServed()
    {
        await using var a = EchoServer.Start("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{a.Port} }}", "mode: tcp\nlimits: { max_per_client: 2 }\n" + FastTcpHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var first = await LineClient.ConnectAsync(port);
        using var second = await LineClient.ConnectAsync(port);
        Assert.Equal("a: 1", await first.AskAsync("1"));
        Assert.Equal("a: 2", await second.AskAsync("2"));
        Assert.Null(await AskOnceAsync(port, "3")); // closed at accept: over the per-client limit
        first.Dispose();
        await Eventually.TrueAsync(async () =>
        {
            return await AskOnceAsync(port, "4") == "a: 4"; // null while the closed connection's place is not free yet
        }, "a place freed by a closed connection is taken again");
    }

    [Fact]
    public async Task WithNothingUp_ANewClientWaitsForAnUpstream_InsteadOfBeingDropped()
    {
        await using var a = EchoServer.Start("a");
        await a.StopAsync();
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{a.Port} }}", "mode: tcp\ntimeouts: { connect: 10s }\n" + FastTcpHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams[0].Health.State == Manypaths.Health.HealthState.Down, "the stopped upstream is down");
        using var c = await LineClient.ConnectAsync(port);
        var ask = c.AskAsync("waited", TimeSpan.FromSeconds(15));
        a.Listen();
        Assert.Equal("a: waited", await ask);
    }

    [Fact]
    public async Task AConnectionIdleForTimeoutsIdle_IsClosed_WhileABusyOneLivesOn()
    {
        await using var a = EchoServer.Start("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, address: 127.0.0.1:{a.Port} }}", "mode: tcp\ntimeouts: { idle: 400ms }\n" + FastTcpHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var idle = await LineClient.ConnectAsync(port);
        using var busy = await LineClient.ConnectAsync(port);
        Assert.Equal("a: hi", await idle.AskAsync("hi"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The busy one talks every 100 ms for 1.2 s: three idle periods, never idle for one.
        for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(1.2); i++)
        {
            Assert.Equal($"a: {i}", await busy.AskAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System); // pacing the client, not synchronisation
        }

        Assert.Null(await idle.AskAsync("still there?", TimeSpan.FromSeconds(2)));
        Assert.Equal("a: last", await busy.AskAsync("last"));
    }

    /// <summary>One question on a new connection; null when the connection is reset or closed (at connect or after).</summary>
    private static async Task<string?> AskOnceAsync(int port, string line)
    {
        try
        {
            using var c = await LineClient.ConnectAsync(port);
            return await c.AskAsync(line);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null; // the reset arrived before the connect completed
        }
    }
}
