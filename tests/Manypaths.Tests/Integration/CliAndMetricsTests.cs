using System.Net.Sockets;
using System.Text.Json;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

[Collection(Heavy.Name)]
public sealed class CliAndMetricsTests
{
    [Fact]
    public async Task Metrics_AreAcceptedByPromtool()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var dead = new TestUpstream("dead");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}\n- {{ name: dead, url: {dead.Url} }}", "health: { interval: 200ms, fast_interval: 50ms, timeout: 150ms }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        for (var i = 0; i < 20; i++)
        {
            (await client.GetAsync($"http://127.0.0.1:{port}/")).Dispose();
        }

        await Eventually.TrueAsync(() => up.Probes > 0, "a probe ran");
        var metrics = await client.GetStringAsync(new Uri(node.Admin, "metrics"));
        Assert.Contains("manypaths_requests_total{service=\"svc\",code=\"2xx\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_probe_duration_seconds_bucket", metrics, StringComparison.Ordinal);

        var (exit, stdout, stderr) = await Tool.RunAsync("promtool", "check metrics", stdin: metrics);
        Assert.True(exit == 0, $"promtool said: {stdout}{stderr}\n---\n{metrics}");
    }

    [Fact]
    public async Task Check_BadConfig_PrintsEveryProblemWithPosition_AndExitsOne()
    {
        var dir = Directory.CreateTempSubdirectory("manypaths-check-");
        var path = Path.Combine(dir.FullName, "bad.yaml");
        await File.WriteAllTextAsync(path, "services:\n  s:\n    listen: 127.0.0.1:notaport\n    upstreams: [ { name: u, url: http://127.0.0.1:9001 } ]\n    retires: 2\n");
        var (exit, _, stderr) = await Tool.ManypathsAsync($"check --config \"{path}\"");
        Assert.Equal(1, exit);
        Assert.Contains($"{path}:3:13: '127.0.0.1:notaport' is not a listen address", stderr, StringComparison.Ordinal);
        Assert.Contains($"{path}:5:5: Unknown key 'retires' in service 's'. Did you mean 'retries'?", stderr, StringComparison.Ordinal);
        dir.Delete(true);
    }

    [Fact]
    public async Task Check_WithNode_ReportsAListenAddressTakenByAnotherProcess()
    {
        using var squatter = new TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;
        var dir = Directory.CreateTempSubdirectory("manypaths-check-");
        var path = Path.Combine(dir.FullName, "m.yaml");
        await File.WriteAllTextAsync(path, $"nodes:\n  n1: {{ admin: http://127.0.0.1:{Demo.FreePort.Next()} }}\nservices:\n  s:\n    listen: {{ n1: 127.0.0.1:{taken} }}\n    upstreams: [ {{ name: u, url: http://127.0.0.1:9001 }} ]\n");

        var valid = await Tool.ManypathsAsync($"check --config \"{path}\"");
        Assert.Equal(0, valid.Exit);
        Assert.Contains("valid", valid.Stdout, StringComparison.Ordinal);

        var (exit, _, stderr) = await Tool.ManypathsAsync($"check --config \"{path}\" --node n1");
        Assert.Equal(1, exit);
        Assert.Contains($"{path}:5:19: Service 's' on node 'n1' listens on 127.0.0.1:{taken}, which is already taken by another process", stderr, StringComparison.Ordinal);
        dir.Delete(true);
    }

    [Fact]
    public async Task AdminCommands_MaintenanceDrainAndStatus_WorkAgainstARunningNode()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}");
        await using var node = await ProxyNode.StartAsync(yaml);
        var target = $"--config \"{node.ConfigPath}\" --node n1";
        using var client = new HttpClient();

        var on = await Tool.ManypathsAsync($"maintenance on svc --message \"Back at noon\" --until 10m {target}");
        Assert.True(on.Exit == 0, on.Stderr);
        Assert.Matches(@"^maintenance on: service svc, message ""Back at noon"", until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in (9m \d+s|10m 0s)\)\napplied on n1\n$", on.Stdout);
        var maintained = await Tool.ManypathsAsync($"status {target}");
        Assert.Matches(@"maintenance on svc: ""Back at noon"" \(until \d{4}-\d\d-\d\dT[\d:.]+\+00:00; since ", maintained.Stdout);
        using (var sorry = await client.GetAsync($"http://127.0.0.1:{port}/"))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, sorry.StatusCode);
            Assert.Contains("Back at noon", await sorry.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(0, (await Tool.ManypathsAsync($"maintenance off svc {target}")).Exit);
        var drained = await Tool.ManypathsAsync($"drain svc a {target}");
        Assert.Equal((0, "drained: service svc, upstream a\napplied on n1\n"), (drained.Exit, drained.Stdout));
        Assert.True(node.Host.Maintenance.IsDrained("svc", "a"));
        var status = await Tool.ManypathsAsync($"status {target}");
        Assert.True(status.Exit == 0, status.Stderr);
        Assert.Contains("(drained)", status.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Tool.ManypathsAsync($"undrain svc a {target}")).Exit);
        Assert.False(node.Host.Maintenance.IsDrained("svc", "a"));

        var tokenFile = Path.Combine(node.Directory, "wrong.token");
        await File.WriteAllTextAsync(tokenFile, "not-the-token");
        var refused = await Tool.ManypathsAsync($"drain svc a --admin {node.Admin} --token-file \"{tokenFile}\"");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("The admin token is wrong", refused.Stderr, StringComparison.Ordinal);
        Assert.False(node.Host.Maintenance.IsDrained("svc", "a"));
    }

    [Fact]
    public async Task AdminCommand_AnUndeclaredNode_IsRefused_NotSentToADefaultAddress()
    {
        var dir = Directory.CreateTempSubdirectory("manypaths-cli-");
        var path = Path.Combine(dir.FullName, "m.yaml");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "cluster.key"), "k");
        await File.WriteAllTextAsync(path, "cluster: { secret_file: cluster.key }\nnodes:\n  blr: { admin: http://127.0.0.1:7501 }\n  maa: { admin: http://127.0.0.1:7502 }\nservices:\n  control:\n    listen: { blr: 127.0.0.1:8081, maa: 127.0.0.1:8082 }\n    upstreams: [ { name: use1, url: http://127.0.0.1:9001 } ]\n");
        foreach (var command in new[] { "drain control use1", "undrain control use1", "maintenance on control", "status" })
        {
            var (exit, stdout, stderr) = await Tool.ManypathsAsync($"{command} --config \"{path}\" --node nosuch");
            Assert.Equal(2, exit);
            Assert.Equal("", stdout);
            Assert.Equal($"Node 'nosuch' is not declared under 'nodes' in {path} (declared: blr, maa).\n", stderr);
        }

        dir.Delete(true);
    }

    [Fact]
    public async Task Run_AListenAddressAlreadyTaken_SaysSoInOneLine_AndExitsOne()
    {
        using var squatter = new TcpListener(System.Net.IPAddress.Loopback, 0);
        squatter.Start();
        var taken = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;
        var dir = Directory.CreateTempSubdirectory("manypaths-run-");
        var path = Path.Combine(dir.FullName, "m.yaml");
        await File.WriteAllTextAsync(path, $"nodes:\n  n1: {{ admin: http://127.0.0.1:{Demo.FreePort.Next()} }}\nservices:\n  s:\n    listen: 127.0.0.1:{taken}\n    upstreams: [ {{ name: u, url: http://127.0.0.1:9001 }} ]\n");
        using var node = NodeProcess.Start(path, "n1");
        Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal($"Not starting: Cannot listen on 127.0.0.1:{taken}: Failed to bind to address http://127.0.0.1:{taken}: address already in use.", node.Output.Trim());
        dir.Delete(true);
    }

    [Fact]
    public async Task Run_AListenAddressNotOnThisMachine_SaysSoInOneLine_AndExitsOne()
    {
        // "address not available" comes from the socket as a bare SocketException, not Kestrel's IOException.
        var dir = Directory.CreateTempSubdirectory("manypaths-run-");
        var path = Path.Combine(dir.FullName, "m.yaml");
        await File.WriteAllTextAsync(path, $"nodes:\n  n1: {{ admin: http://127.0.0.1:{Demo.FreePort.Next()} }}\nservices:\n  s:\n    listen: 192.0.2.1:48095\n    upstreams: [ {{ name: u, url: http://127.0.0.1:9001 }} ]\n");
        using var node = NodeProcess.Start(path, "n1");
        Assert.Equal(1, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("Not starting: Cannot listen on 192.0.2.1:48095: Cannot assign requested address", node.Output.Trim());
        dir.Delete(true);
    }

    [Fact]
    public async Task Demo_Unattended_RoutesAroundTheBrokenPath_AndCrossesRegions_WithoutAFailedRequest()
    {
        var (exit, stdout, stderr) = await Tool.ManypathsAsync("demo --duration 16s --json", TimeSpan.FromSeconds(90));
        Assert.True(exit == 0, stdout + stderr);
        using var summary = JsonDocument.Parse(stdout[stdout.IndexOf('{', StringComparison.Ordinal)..]);
        var root = summary.RootElement;
        Assert.Equal(0, root.GetProperty("failed").GetInt64());
        Assert.True(root.GetProperty("requests").GetInt64() > 400);
        Assert.True(root.GetProperty("served_by").GetProperty("euw1").GetInt64() > 0, "the backup region served while the primary tier was down");
        var relayed = root.GetProperty("routes").EnumerateObject().Where(p => p.Name.StartsWith("via ", StringComparison.Ordinal)).Sum(p => p.Value.GetInt64());
        Assert.True(relayed > 0, "blr reached us-east through a peer while its own path was blackholed");
        Assert.Equal(4, root.GetProperty("events").GetArrayLength());
        Assert.Contains("blr's own path", stdout, StringComparison.Ordinal);
        Assert.Contains("are gone now", root.GetProperty("note").GetString(), StringComparison.Ordinal);
    }
}
