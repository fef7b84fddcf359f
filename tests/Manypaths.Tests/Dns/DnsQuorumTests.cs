using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Dns;

/// <summary>
/// Three real nodes in one process, each answering DNS for the same zone from the cluster's health data: one node's
/// broken path to an upstream is one vote of three and changes no node's answer; a real outage changes every node's.
/// </summary>
public sealed class DnsQuorumTests(ITestOutputHelper output)
{
    private static string Zone(IReadOnlyDictionary<string, int> ports) => $$"""
        dns:
          listen: { {{string.Join(", ", ports.Select(p => $"{p.Key}: 127.0.0.1:{p.Value}"))}} }
          zones:
            example.test:
              ttl: 5s
              records:
                - { name: "@", type: NS, values: [ns1.example.test.] }
                - { name: all, type: A, policy: multivalue, service: svc }
        """;

    [Fact]
    public async Task OneNodesBrokenPath_ChangesNoAnswer_ARealOutageChangesEveryNodes()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        await using var cluster = await MeshCluster.StartAsync(
            $"- {{ name: a, url: {a.Url}, dns_address: 192.0.2.1 }}\n- {{ name: b, url: {b.Url}, dns_address: 192.0.2.2 }}",
            "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }",
            new MeshClusterOptions(Root: Zone), "n1", "n2", "n3");
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Mesh!.Peers.All(p => n.Mesh.Views.Get(p, "svc", "a")?.State == HealthState.Up && n.Mesh.Views.Get(p, "svc", "b")?.State == HealthState.Up)),
            "every node hears every peer's view of a and b");
        foreach (var port in cluster.ExtraPorts.Values)
        {
            Assert.Equal(["192.0.2.1", "192.0.2.2"], (await Dig.QueryAsync(port, "all.example.test")).Values.Order().ToList());
        }

        // n1's own path to a breaks: n1 sees a down, n2 and n3 see it up: 2 of 3 is a quorum, a stays in every answer.
        n1.Faults.Set($"127.0.0.1:{a.Port}", new Fault(FaultKind.Blackhole));
        await Eventually.TrueAsync(() => n1.Generation!.Services["svc"].Upstreams[0].Health.State == HealthState.Down, "n1 sees a down");
        await Eventually.TrueAsync(() => cluster.Nodes["n2"].Mesh!.Views.Get("n1", "svc", "a")?.State == HealthState.Down, "n2 heard that n1 sees a down");
        foreach (var (node, port) in cluster.ExtraPorts)
        {
            Assert.True((await Dig.QueryAsync(port, "all.example.test")).Values.Order().SequenceEqual(["192.0.2.1", "192.0.2.2"]), $"{node} still answers a and b");
        }

        var explained = await Tool.ManypathsAsync($"dns query all.example.test --config \"{cluster.ConfigPath}\" --node n1");
        Assert.True(explained.Exit == 0, explained.Stderr);
        Assert.Contains("a 192.0.2.1 (tier 0, region -): healthy by a 50% quorum [n1 down, n2 up, n3 up]", explained.Stdout, StringComparison.Ordinal);
        Assert.Contains("multivalue", explained.Stdout, StringComparison.Ordinal);

        // A real outage of a: every node sees it down, every node stops answering it.
        a.HealthOk = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (node, port) in cluster.ExtraPorts)
        {
            await Eventually.TrueAsync(async () => (await Dig.QueryAsync(port, "all.example.test")).Values.SequenceEqual(["192.0.2.2"]), $"{node} answers only b");
        }

        output.WriteLine($"[report] dns quorum (3 nodes, 50%): one node's blackholed path changed no answer; a real outage left every node's answer within {clock.Elapsed.TotalMilliseconds:0} ms (interval 300 ms, fall 2, heartbeats 50 ms)");
    }
}
