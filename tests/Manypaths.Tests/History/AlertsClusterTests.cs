using System.Diagnostics;
using System.Text.Json;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.History;

/// <summary>
/// A real 3-node cluster on loopback with the default alert settings and a real webhook receiver: an outage is
/// announced once per event (one sender), within 10 s; while the receiver is down the recovery is retried and
/// delivered once it is back; the incident and the history are on every node's API; the URL never shows.
/// </summary>
[Collection(Heavy.Name)]
public sealed class AlertsClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AnOutage_IsAnnouncedOncePerEvent_TheRecoveryIsRetriedUntilDelivered_AndIncidentsAndHistoryShowIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var a = await TestUpstream.StartAsync("a");
        var hookUrl = receiver.Url + "?token=s3cr3t";
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}",
            "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }",
            new MeshClusterOptions(Root: _ => $"alerts:\n  webhooks:\n    - {{ url: \"{hookUrl}\" }}\n"));
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Mesh!.Peers.All(p => n.Mesh.Views.Get(p, "svc", "a")?.State == HealthState.Up)),
            "every node hears every peer's view of a", TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Recorder!.Sampled("service", "svc") == "up" && n.Recorder.Sampled("upstream", "svc/a") == "up"),
            "every node has sampled svc and a up (a node that starts during an outage sees no transition)");

        // The outage: a's health check fails everywhere.
        var clock = Stopwatch.StartNew();
        a.HealthOk = false;
        await Eventually.TrueAsync(() => receiver.Events().Any(e => e is ("service", "svc", "down", _)), "the service-down alert", TimeSpan.FromSeconds(15));
        var serviceDown = clock.Elapsed;
        await Eventually.TrueAsync(() => receiver.Events().Any(e => e is ("upstream", "svc/a", "down", _)), "the upstream-down-by-quorum alert", TimeSpan.FromSeconds(15));
        var upstreamDown = clock.Elapsed;
        output.WriteLine($"[report] alerts: service down announced {serviceDown.TotalSeconds:0.0} s after the health check began failing, upstream down by quorum {upstreamDown.TotalSeconds:0.0} s (defaults: hold 5s, group 2s)");
        Assert.True(upstreamDown < TimeSpan.FromSeconds(12), $"the held alert left {upstreamDown.TotalSeconds:0.0} s after the change (fall x interval, 5 s hold, 2 s group)");

        // The recovery while the receiver is down: retried, delivered when it is back.
        await receiver.StopAsync();
        a.HealthOk = true;
        var sender = cluster.Nodes["n1"]; // the first name among the nodes that hear each other
        await Eventually.TrueAsync(async () => await FailedAttemptsAsync(sender) > 0, "the sender's failed delivery shows in its status", TimeSpan.FromSeconds(20));
        var status = await new HttpClient().GetStringAsync(new Uri(sender.AdminUrl!, "api/status"));
        Assert.DoesNotContain("s3cr3t", status, StringComparison.Ordinal);
        Assert.DoesNotContain(hookUrl, status, StringComparison.Ordinal);
        await receiver.StartAsync();
        await Eventually.TrueAsync(() => receiver.Events().Any(e => e is ("service", "svc", "up", _)) && receiver.Events().Any(e => e is ("upstream", "svc/a", "up", _)),
            "the recovery alerts, after retries", TimeSpan.FromSeconds(30));

        // Once per event: no key twice, though three nodes saw all of it.
        var events = receiver.Events();
        output.WriteLine($"[report] alerts: {receiver.Received.Count} payloads, events: {string.Join("; ", events.Select(e => $"{e.Kind} {e.Subject} {e.To} {e.Key}"))}");
        Assert.All(events.GroupBy(e => e.Key), g => Assert.Single(g));
        Assert.Equal(4, events.Count(e => e.Kind is "service" or "upstream"));

        // Every node has the one incident of the whole cluster (merged from each node's own over the mesh: opened and
        // closed, seen by all three), and the transitions in its own history.
        using var http = new HttpClient();
        string? id = null;
        foreach (var (name, node) in cluster.Nodes)
        {
            await Eventually.TrueAsync(async () =>
            {
                using var incidents = JsonDocument.Parse(await http.GetStringAsync(new Uri(node.AdminUrl!, "api/incidents")));
                var down = incidents.RootElement.GetProperty("incidents").EnumerateArray()
                    .Where(i => i.GetProperty("kind").GetString() == "down" && i.GetProperty("service").GetString() == "svc").ToList();
                if (down.Count != 1 || down[0].GetProperty("end").ValueKind != JsonValueKind.String)
                {
                    return false;
                }

                id = down[0].GetProperty("id").GetString();
                return down[0].GetProperty("nodes").EnumerateArray().Select(n => n.GetString()).Order(StringComparer.Ordinal).SequenceEqual(["n1", "n2", "n3"]);
            }, $"{name} shows one closed incident seen by n1, n2 and n3", TimeSpan.FromSeconds(15));
            await Eventually.TrueAsync(async () =>
            {
                using var history = JsonDocument.Parse(await http.GetStringAsync(new Uri(node.AdminUrl!, "api/history?service=svc")));
                var transitions = history.RootElement.GetProperty("transitions").EnumerateArray().Select(t => $"{t.GetProperty("kind").GetString()} {t.GetProperty("to").GetString()}").ToList();
                return transitions.Contains("service down") && transitions.Contains("service up");
            }, $"{name}'s history has the service's transitions");
        }

        // A span: long ones are answered by hour; nothing happened in 2000.
        using (var old = JsonDocument.Parse(await http.GetStringAsync(new Uri(cluster.Nodes["n1"].AdminUrl!, "api/history?service=svc&from=2000-01-01T00:00:00Z&to=2000-01-04T00:00:00Z"))))
        {
            Assert.Equal("hour", old.RootElement.GetProperty("resolution").GetString());
            Assert.Empty(old.RootElement.GetProperty("transitions").EnumerateArray());
            Assert.Empty(old.RootElement.GetProperty("rows").EnumerateArray());
        }

        // An operator's update, posted on n2 with the CLI, shows on n1; without the token it is refused.
        var cli = await Tool.ManypathsAsync($"incident note {id} \"Root cause: a bad deploy of a\" --config \"{cluster.ConfigPath}\" --node n2");
        Assert.True(cli.Exit == 0, cli.Stdout + cli.Stderr);
        using (var refused = await http.PostAsync(new Uri(cluster.Nodes["n3"].AdminUrl!, $"api/incidents/{id}/notes"), new StringContent("{\"text\":\"x\"}")))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await http.GetStringAsync(new Uri(cluster.Nodes["n1"].AdminUrl!, "api/incidents"))).Contains("Root cause: a bad deploy of a", StringComparison.Ordinal),
            "n1 shows the update posted on n2", TimeSpan.FromSeconds(15));
        var listed = await Tool.ManypathsAsync($"incident list --config \"{cluster.ConfigPath}\" --node n1");
        Assert.Contains("Root cause: a bad deploy of a", listed.Stdout, StringComparison.Ordinal);

        // A restarted node still has its own past incident (and the notes it took): they are in its history file.
        await cluster.RestartAsync("n2");
        await Eventually.TrueAsync(() => cluster.Nodes["n2"].Recorder!.Incidents.Share() is var share
            && share.Incidents.Any(i => i is { Kind: "down", Service: "svc", End: not null }) && share.Notes.Any(n => n.IncidentId == id && n.Text == "Root cause: a bad deploy of a"),
            "n2's own incident and note, back after its restart", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task BothSidesOfAPartition_SendTheSameEvent_WithTheSameDedupeKey()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var a = await TestUpstream.StartAsync("a");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}",
            "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }",
            new MeshClusterOptions(Root: _ => $"alerts:\n  hold: 1s\n  group: 500ms\n  webhooks:\n    - {{ url: \"{receiver.Url}\", format: json }}\n"));
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Recorder!.Sampled("service", "svc") == "up"), "every node has sampled svc up", TimeSpan.FromSeconds(15));

        // n1 | n2 n3: every heartbeat between the two sides is lost, both ways.
        string Mesh(string n) => $"127.0.0.1:{cluster.MeshPorts[n]}";
        cluster.Nodes["n1"].Faults.Set(Mesh("n2"), new Fault(FaultKind.Blackhole));
        cluster.Nodes["n1"].Faults.Set(Mesh("n3"), new Fault(FaultKind.Blackhole));
        cluster.Nodes["n2"].Faults.Set(Mesh("n1"), new Fault(FaultKind.Blackhole));
        cluster.Nodes["n3"].Faults.Set(Mesh("n1"), new Fault(FaultKind.Blackhole));
        await Eventually.TrueAsync(() => cluster.Nodes["n1"].Mesh!.Link("n2").State == LinkState.Down && cluster.Nodes["n2"].Mesh!.Link("n1").State == LinkState.Down
            && cluster.Nodes["n3"].Mesh!.Link("n1").State == LinkState.Down && cluster.Nodes["n1"].Mesh!.Link("n3").State == LinkState.Down, "the partition", TimeSpan.FromSeconds(10));

        a.HealthOk = false;
        List<(string Node, string Key)> Sent() => receiver.Received.SelectMany(p => p.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("kind").GetString() == "service" && e.GetProperty("to").GetString() == "down")
            .Select(e => (p.GetProperty("node").GetString()!, e.GetProperty("key").GetString()!))).ToList();
        await Eventually.TrueAsync(() => Sent().Count >= 2, "both sides announce the service down", TimeSpan.FromSeconds(15));
        var sent = Sent();
        output.WriteLine($"[report] partition: service down sent by {string.Join(", ", sent.Select(s => $"{s.Node} (key {s.Key})"))}");
        Assert.Equal(["n1", "n2"], sent.Select(s => s.Node).Order(StringComparer.Ordinal));
        Assert.Single(sent.Select(s => s.Key).Distinct());
    }

    [Fact]
    public async Task AnOutageOnlyOneNodeSees_IsAlertedOnce_ByTheSender()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var a = await TestUpstream.StartAsync("a");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}",
            "relay: false\nhealth: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }",
            new MeshClusterOptions(Root: _ => $"alerts:\n  webhooks:\n    - {{ url: \"{receiver.Url}\" }}\n"));
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Recorder!.Sampled("service", "svc") == "up"), "every node has sampled svc up", TimeSpan.FromSeconds(15));

        // Only n2's path to a breaks: n2 serves nothing (no relaying here); n1, the sender, still sees svc up itself.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        cluster.Nodes["n2"].Faults.Set($"127.0.0.1:{a.Port}", new Fault(FaultKind.Blackhole));
        List<(string Node, string To)> Service() => receiver.Received.SelectMany(p => p.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("kind").GetString() == "service").Select(e => (p.GetProperty("node").GetString()!, e.GetProperty("to").GetString()!))).ToList();
        await Eventually.TrueAsync(() => Service().Any(e => e.To == "down"), "the outage n2 sees is alerted", TimeSpan.FromSeconds(20));
        output.WriteLine($"[report] alerts: an outage only n2 sees was alerted by {Service()[0].Node} {clock.Elapsed.TotalSeconds:0.0} s after its path broke");
        Assert.Equal("up", cluster.Nodes["n1"].Recorder!.Sampled("service", "svc")); // n1 itself never saw it
        cluster.Nodes["n2"].Faults.ClearAll();
        await Eventually.TrueAsync(() => Service().Any(e => e.To == "up"), "the recovery is alerted", TimeSpan.FromSeconds(30));
        Assert.Equal([("n1", "down"), ("n1", "up")], Service());
    }

    private static async Task<long> FailedAttemptsAsync(Manypaths.Node.NodeHost node)
    {
        using var http = new HttpClient();
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(node.AdminUrl!, "api/status")));
        return doc.RootElement.GetProperty("alerts").GetProperty("webhooks")[0].GetProperty("failed_attempts").GetInt64();
    }
}
