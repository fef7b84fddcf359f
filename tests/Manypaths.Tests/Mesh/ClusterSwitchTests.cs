using System.Net;
using System.Net.Http.Headers;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>Maintenance and drains set on one node reach every node through the mesh, and a rejoining node catches up.</summary>
public sealed class ClusterSwitchTests
{
    [Fact]
    public async Task Maintenance_SetOnOneNode_ServesTheSorryPageEverywhere_AndARestartedNodeCatchesUp()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}");
        using var client = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.Nodes["n1"].AdminUrl!, "api/services/svc/maintenance"))
        {
            Content = new StringContent("{\"message\":\"Moving datacenters\"}", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ProxyNode.Token);
        using (var on = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        }

        foreach (var n in new[] { "n1", "n2", "n3" })
        {
            await Eventually.TrueAsync(async () => (await client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts[n]}/")).StatusCode == HttpStatusCode.ServiceUnavailable,
                $"{n} serves the sorry page", TimeSpan.FromSeconds(5));
        }

        await cluster.RestartAsync("n3");
        await Eventually.TrueAsync(() => cluster.Nodes["n3"].Maintenance.Maintenance("svc")?.Message == "Moving datacenters", "the restarted node learns the switch from its peers", TimeSpan.FromSeconds(5));

        cluster.Nodes["n2"].Maintenance.ClearMaintenance("svc");
        foreach (var n in new[] { "n1", "n2", "n3" })
        {
            await Eventually.TrueAsync(async () => (await client.GetAsync($"http://127.0.0.1:{cluster.ProxyPorts[n]}/")).StatusCode == HttpStatusCode.OK,
                $"{n} serves again after maintenance off on another node", TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task AdminWrite_AnswersWhichNodesAppliedIt_AndWhichAreUnreachable()
    {
        // dead_after 3 s: a peer is waited for while heard within 6 s, whatever a starved machine does to 50 ms heartbeats.
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", new MeshClusterOptions("{ heartbeat: 50ms, dead_after: 3s }"));
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").State == Manypaths.Mesh.LinkState.Up && n1.Mesh.Link("n3").State == Manypaths.Mesh.LinkState.Up, "n1 hears n2 and n3");
        var token = Path.Combine(Path.GetDirectoryName(cluster.ConfigPath)!, "admin.token");

        var on = await Tool.ManypathsAsync($"maintenance on svc --message \"Moving\" --admin {n1.AdminUrl} --token-file \"{token}\"");
        Assert.True(on.Exit == 0, on.Stderr);
        Assert.EndsWith("\napplied on n1, n2, n3\n", on.Stdout, StringComparison.Ordinal);

        await cluster.Nodes["n3"].DisposeAsync();
        await Eventually.TrueAsync(() => TimeProvider.System.GetUtcNow() - n1.Mesh!.Link("n3").LastHeard > TimeSpan.FromSeconds(6), "n3 not heard for two dead_after periods", TimeSpan.FromSeconds(20));
        var off = await Tool.ManypathsAsync($"maintenance off svc --admin {n1.AdminUrl} --token-file \"{token}\"");
        Assert.True(off.Exit == 0, off.Stderr);
        Assert.Equal("maintenance off: service svc\napplied on n1, n2; unreachable: n3 (each takes it from a peer when it rejoins)\n", off.Stdout);
    }

    [Fact]
    public async Task Drain_SetOnOneNode_IsHonouredByEveryNode()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}");
        cluster.Nodes["n2"].Maintenance.SetDrain("svc", "a");
        await Eventually.TrueAsync(() => cluster.Nodes["n1"].Maintenance.IsDrained("svc", "a") && cluster.Nodes["n3"].Maintenance.IsDrained("svc", "a"), "the drain reaches n1 and n3", TimeSpan.FromSeconds(5));
        using var client = new HttpClient();
        var before = a.Requests;
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("b", await Integration.FailoverTests.ServedBy(client, $"http://127.0.0.1:{cluster.ProxyPorts["n1"]}/"));
        }

        Assert.Equal(before, a.Requests);
    }
}
