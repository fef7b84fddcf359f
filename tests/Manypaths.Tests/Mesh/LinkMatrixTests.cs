using System.Text.Json;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>The peer link matrix: every node's links, measured locally or reported by the other nodes' heartbeats.</summary>
public sealed class LinkMatrixTests
{
    [Fact]
    public async Task Status_ShowsTheWholeMatrix_IncludingALinkBetweenTwoOtherNodes()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}");
        var n1 = cluster.Nodes["n1"];
        // Break the link between n2 and n3 only: n1 sees both of them fine, and must learn of the break from them.
        cluster.Nodes["n2"].Faults.Set($"127.0.0.1:{cluster.MeshPorts["n3"]}", new Fault(FaultKind.Blackhole));
        using var client = new HttpClient();
        Dictionary<(string, string), JsonElement> cells = [];
        await Eventually.TrueAsync(async () =>
        {
            using var doc = JsonDocument.Parse(await client.GetStringAsync(new Uri(n1.AdminUrl!, "api/status")));
            cells = doc.RootElement.GetProperty("link_matrix").EnumerateArray()
                .ToDictionary(c => (c.GetProperty("from").GetString()!, c.GetProperty("to").GetString()!), c => c.Clone());
            string State(string from, string to) => cells[(from, to)].GetProperty("state").GetString()!;
            return cells.Count == 6
                && State("n1", "n2") == "up" && State("n1", "n3") == "up"
                && State("n2", "n1") == "up" && State("n3", "n1") == "up"
                && State("n2", "n3") == "down" && State("n3", "n2") == "down";
        }, "n1's status shows n2<->n3 down and every other link up", TimeSpan.FromSeconds(10));

        Assert.Equal("measured", cells[("n1", "n2")].GetProperty("source").GetString());
        Assert.Equal("reported", cells[("n2", "n3")].GetProperty("source").GetString());
        Assert.NotEqual(JsonValueKind.Null, cells[("n2", "n3")].GetProperty("reported_at").ValueKind);
        Assert.Equal(JsonValueKind.Number, cells[("n2", "n1")].GetProperty("rtt_ms").ValueKind);

        var page = await client.GetStringAsync(n1.AdminUrl);
        Assert.Contains("<table id=\"link-matrix\">", page, StringComparison.Ordinal);
        Assert.Contains("<td class=\"down\" title=\"reported\">down", page, StringComparison.Ordinal);

        // The CLI draws the same matrix. A starved machine (this starts a process) can make a 50 ms heartbeat link
        // look down for a moment, so read it again until n2's row shows both of its links as they are.
        await Eventually.TrueAsync(async () =>
        {
            var cli = await Tool.ManypathsAsync($"status --config \"{cluster.ConfigPath}\" --node n1");
            Assert.True(cli.Exit == 0, cli.Stderr);
            Assert.Contains("peer links (row measures column)", cli.Stdout, StringComparison.Ordinal);
            var n2Row = cli.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("│ n2", StringComparison.Ordinal) || l.TrimStart().StartsWith("| n2", StringComparison.Ordinal));
            return n2Row.Contains("down", StringComparison.Ordinal) && n2Row.Contains("up", StringComparison.Ordinal);
        }, "manypaths status shows n2 -> n3 down and n2 -> n1 up", TimeSpan.FromSeconds(30));

        // n3 goes quiet: its last report says its link to n1 was up, which no longer proves anything.
        await cluster.Nodes["n3"].DisposeAsync();
        await Eventually.TrueAsync(async () =>
        {
            using var doc = JsonDocument.Parse(await client.GetStringAsync(new Uri(n1.AdminUrl!, "api/status")));
            var cell = doc.RootElement.GetProperty("link_matrix").EnumerateArray()
                .Single(c => c.GetProperty("from").GetString() == "n3" && c.GetProperty("to").GetString() == "n1");
            return cell.GetProperty("source").GetString() == "stale" && cell.GetProperty("state").GetString() == "unknown";
        }, "n3's old row is shown as stale", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void OlderPing_NeverReplacesANewerRow()
    {
        var matrix = new LinkMatrix();
        var now = DateTimeOffset.UnixEpoch;
        matrix.Update("n2", boot: 10, seq: 5, [new LinkReport("n3", LinkState.Down, float.NaN, 1)], now);
        matrix.Update("n2", boot: 10, seq: 4, [new LinkReport("n3", LinkState.Up, 1, 0)], now);
        Assert.Equal(LinkState.Down, matrix.Get("n2")!.Value.Links[0].State);
        // A restarted node (a newer boot) starts its sequence again and wins.
        matrix.Update("n2", boot: 11, seq: 1, [new LinkReport("n3", LinkState.Up, 1, 0)], now);
        Assert.Equal(LinkState.Up, matrix.Get("n2")!.Value.Links[0].State);
        Assert.Null(matrix.Get("n3"));
    }
}
