using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Integration;

/// <summary>SIGTERM drains: requests in flight finish within shutdown_grace, new connections are refused, peers are told.</summary>
[Collection(Heavy.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Sigterm_WithTenSecondsOfGrace_LetsAFiveSecondRequestFinish_AndRefusesNewConnections()
    {
        await using var up = await TestUpstream.StartAsync("a");
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(5);
        up.SlowOnlyWhen = r => r.Path == "/slow";
        var (dir, port, node) = await StartNodeAsync(up, "shutdown_grace: 10s");
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            var clock = Stopwatch.StartNew();
            var slow = client.GetAsync($"http://127.0.0.1:{port}/slow");
            await Eventually.TrueAsync(() => up.Seen.Any(s => s.Path == "/slow"), "the 5 s request reached the upstream");
            await node.SignalAsync("TERM");
            var signalled = clock.Elapsed;

            // While that request is still running, the listener takes no new connection.
            await Eventually.TrueAsync(() => !Connects(port), "a new connection is refused during the drain", TimeSpan.FromSeconds(4));
            var refusedAt = clock.Elapsed;
            Assert.False(slow.IsCompleted, "the slow request was still in flight when new connections were refused");

            using var response = await slow;
            var answeredAt = clock.Elapsed;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hello from a", await response.Content.ReadAsStringAsync());
            Assert.True(answeredAt >= TimeSpan.FromSeconds(4.5), $"answered after {answeredAt}"); // the upstream took its 5 s (timers may round)

            Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(15)));
            var exitedAt = clock.Elapsed;
            Assert.True(node.Logged("finishing in-flight requests for up to 10s"), node.Output);
            Assert.True(node.Logged("drained in"), node.Output);
            output.WriteLine($"[report] SIGTERM with shutdown_grace 10s: signal at {signalled.TotalSeconds:0.00} s, new connections refused by {refusedAt.TotalSeconds:0.00} s, the 5 s request answered 200 at {answeredAt.TotalSeconds:0.00} s, process exited 0 at {exitedAt.TotalSeconds:0.00} s");
        }
        finally
        {
            node.Dispose();
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// SIGTERM again and again while the node drains and exits, as impatient scripts and service managers send it: the
    /// second one stops it now, and no later one crashes it. A signal's handler runs on its own thread; one that came
    /// as the node was exiting threw ObjectDisposedException from a disposed source, and the runtime aborted (seen in
    /// a netns test's teardown).
    /// </summary>
    [Fact]
    public async Task SigtermAgainAndAgain_WhileTheNodeStops_StopsItWithoutACrash()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (dir, _, node) = await StartNodeAsync(up, "");
        try
        {
            // Signals until it is gone (bounded: 15 s, and a short pause every 100 so the node gets the CPU).
            var clock = Stopwatch.StartNew();
            var sent = 0;
            while (!node.HasExited && clock.Elapsed < TimeSpan.FromSeconds(15) && Kill(node.Id, 15) == 0)
            {
                if (++sent % 100 == 0)
                {
                    await Task.Yield();
                }
            }

            var exit = await node.WaitForExitAsync(TimeSpan.FromSeconds(15));
            Assert.DoesNotContain("Unhandled exception", node.Output, StringComparison.Ordinal);
            Assert.True(exit == 0, $"exit code {exit} after {sent} SIGTERMs:\n{node.Output}");
            Assert.True(node.Logged("SIGTERM again while draining: stopping now"), node.Output);
            output.WriteLine($"[report] {sent} SIGTERMs while the node stopped: exit 0 after {clock.ElapsedMilliseconds} ms, no crash");
        }
        finally
        {
            node.Dispose();
            dir.Delete(recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [Fact]
    public async Task StoppingNode_TellsItsPeersAtOnce_SoTheyStopRelayingThroughIt()
    {
        // Heartbeats every 30 s: without the announcement, a peer would learn of the drain only at the next one.
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "health: { interval: 200ms, timeout: 150ms }",
            new MeshClusterOptions("{ heartbeat: 30s, dead_after: 90s, replay_window: 30s }"), "n1", "n2");
        var (n1, n2) = (cluster.Nodes["n1"], cluster.Nodes["n2"]);
        await Eventually.TrueAsync(() =>
        {
            n1.Mesh!.Wake();
            n2.Mesh!.Wake();
            return n1.Mesh.Link("n2").State == LinkState.Up && n1.Generation!.Services["svc"].Chooser.Explain(0).Any(p => p.Peer == "n2" && p.Usable);
        }, "n1 can relay through n2");

        var clock = Stopwatch.StartNew();
        var stopping = n2.StopAsync();
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").Draining, "n1 hears that n2 is draining", TimeSpan.FromSeconds(10));
        var heardAt = clock.Elapsed;
        Assert.DoesNotContain(n1.Generation!.Services["svc"].Chooser.Explain(0), p => p.Usable);
        var why = n1.Generation.Services["svc"].Chooser.Explain(0).Single(p => p.Peer == "n2");
        Assert.Equal((false, "n2 is shutting down (draining)"), (why.Usable, why.Why));
        await stopping;
        output.WriteLine($"[report] a stopping node's peer knew it was draining after {heardAt.TotalMilliseconds:0} ms (heartbeat interval 30 s)");
    }

    [Fact]
    public async Task DrainingNode_AnswersNewRelayedRequestsAsUnreached_SoTheOriginGoesElsewhereAtOnce()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        up.Behaviour = UpstreamBehaviour.Slow;
        up.SlowDelay = TimeSpan.FromSeconds(1.5);
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }",
            new MeshClusterOptions(ShutdownGrace: "10s"));
        var port = cluster.MeshPorts["n2"];
        using var client = new HttpClient();
        var signer = new PeerSigner([MeshCluster.Secret]);
        HttpRequestMessage Relayed()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{RelayHeaders.PathPrefix}svc/u1/x");
            RelayHeaders.Sign(request, signer, "n1", 0, "", TimeProvider.System);
            return request;
        }

        var inFlight = client.SendAsync(Relayed());
        await Eventually.TrueAsync(() => up.Requests == 1, "a relayed request is in flight on n2");
        var stopping = cluster.Nodes["n2"].StopAsync();
        using (var refused = await client.SendAsync(Relayed()).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default))
        {
            // Either the listener is already closed (a refused connect is free to retry elsewhere), or it answers
            // "unreached": both tell the origin its request never left.
            if (refused is not null)
            {
                Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
                Assert.True(refused.Headers.Contains(RelayHeaders.Unreached));
            }
        }

        using var finished = await inFlight;
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode); // the one it had, it finished
        Assert.Equal(1, up.Requests);
        await stopping;
    }

    /// <summary>One node in front of <paramref name="up"/> (a temp directory for its files), serving once this returns.</summary>
    private static async Task<(DirectoryInfo Dir, int Port, NodeProcess Node)> StartNodeAsync(TestUpstream up, string clusterExtra)
    {
        var (port, admin) = (Demo.FreePort.Next(), Demo.FreePort.Next());
        var dir = Directory.CreateTempSubdirectory("manypaths-stop-");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), "t");
        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        var extra = clusterExtra.Length > 0 ? ", " + clusterExtra : "";
        await File.WriteAllTextAsync(path, $"""
            cluster: {"{"} name: stop, admin_token_file: admin.token{extra} {"}"}
            nodes:
              n1: {"{"} admin: http://127.0.0.1:{admin} {"}"}
            services:
              svc:
                listen: 127.0.0.1:{port}
                upstreams: [ {"{"} name: a, url: {up.Url} {"}"} ]
            """);
        var node = NodeProcess.Start(path, "n1");
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            await Eventually.TrueAsync(async () => await Answers(client, $"http://127.0.0.1:{port}/"), "the node serves", TimeSpan.FromSeconds(30));
            return (dir, port, node);
        }
        catch
        {
            node.Dispose(); // killed by PID
            dir.Delete(recursive: true);
            throw;
        }
    }

    private static async Task<bool> Answers(HttpClient client, string url)
    {
        try
        {
            using var r = await client.GetAsync(url);
            return r.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static bool Connects(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
