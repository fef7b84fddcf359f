using Manypaths.Health;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Status;

/// <summary>
/// status.public: true on a real node: the page and /api/status show states, not internals (no upstream address or
/// port, no listen address, no config path, no reason text, which can name hosts); a webhook's URL shows nowhere,
/// public or not.
/// </summary>
public sealed class PublicModeTests
{
    [Fact]
    public async Task PublicMode_ShowsStatesWithoutAddressesOrReasons_AndAWebhookUrlNeverShows()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var deadPort = Demo.FreePort.Next(); // nothing listens: its probe fails with a reason naming 127.0.0.1:port
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: dead, url: http://127.0.0.1:{deadPort} }}",
            "health: { path: /healthz, interval: 300ms, timeout: 200ms, rise: 1, fall: 1 }");
        yaml += "\nstatus: { title: Acme status, public: true }\nalerts:\n  webhooks:\n    - { url: \"http://127.0.0.1:9/hook?token=s3cr3t-hook\" }\n";
        await using var node = await ProxyNode.StartAsync(yaml);
        await Eventually.TrueAsync(() => node.Host.Generation!.Services["svc"].Upstreams.Single(u => u.Name == "dead").Health.State == HealthState.Down, "the dead upstream is down");
        Assert.Contains(deadPort.ToString(System.Globalization.CultureInfo.InvariantCulture), node.Host.Generation!.Services["svc"].Upstreams.Single(u => u.Name == "dead").Health.Snapshot().Reason, StringComparison.Ordinal);

        using var http = new HttpClient();
        foreach (var path in new[] { "", "?fragment=1", "api/status" })
        {
            var text = await http.GetStringAsync(new Uri(node.Admin, path));
            Assert.Contains("dead", text, StringComparison.Ordinal); // the upstream and its state are there
            foreach (var secret in new[] { $"{deadPort}", $"{a.Port}", $"{port}", "127.0.0.1", "s3cr3t-hook", node.ConfigPath })
            {
                Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            }
        }

        Assert.Contains("Acme status", await http.GetStringAsync(node.Admin), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublicModeWithHideNodes_NamesNodesByNumber_OnThePageAndInTheApi()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}",
            "health: { path: /healthz, interval: 300ms, timeout: 200ms, rise: 1, fall: 1 }",
            new MeshClusterOptions(Root: _ => "status: { public: true, hide_nodes: true }\n"));
        var n2 = cluster.Nodes["n2"];
        await Eventually.TrueAsync(() => n2.Mesh!.Peers.All(p => n2.Mesh.Link(p).State == Manypaths.Mesh.LinkState.Up), "n2 hears its peers");
        using var http = new HttpClient();
        var page = await http.GetStringAsync(n2.AdminUrl);
        var status = await http.GetStringAsync(new Uri(n2.AdminUrl!, "api/status"));
        var incidents = await http.GetStringAsync(new Uri(n2.AdminUrl!, "api/incidents"));
        Assert.Contains("Answered by node <b id=\"answered-by\">node 2</b>", page, StringComparison.Ordinal);
        Assert.Contains("via node 3", page, StringComparison.Ordinal);
        foreach (var name in new[] { "n1", "n2", "n3" })
        {
            Assert.DoesNotContain($">{name}<", page, StringComparison.Ordinal);
            Assert.DoesNotContain($"via {name}", page, StringComparison.Ordinal);
            Assert.DoesNotContain($"\"{name}\"", status, StringComparison.Ordinal);
            Assert.DoesNotContain($"\"{name}\"", incidents, StringComparison.Ordinal);
        }
    }
}
