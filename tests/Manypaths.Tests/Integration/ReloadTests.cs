using System.Net;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

public sealed class ReloadTests
{
    [Fact]
    public async Task Reload_ValidConfig_SwitchesUpstreams_WithoutDroppingInFlightRequests()
    {
        await using var oldUp = await TestUpstream.StartAsync("old");
        await using var newUp = await TestUpstream.StartAsync("new");
        oldUp.Behaviour = UpstreamBehaviour.Slow;
        oldUp.SlowDelay = TimeSpan.FromMilliseconds(800);
        var (yaml, port) = Yaml.Service($"- {{ name: old, url: {oldUp.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();

        var inFlight = client.GetAsync($"http://127.0.0.1:{port}/slow");
        await Eventually.TrueAsync(() => oldUp.Requests == 1, "the slow request reached the old upstream");
        await File.WriteAllTextAsync(node.ConfigPath, yaml.Replace($"name: old, url: {oldUp.Url}", $"name: new, url: {newUp.Url}", StringComparison.Ordinal));
        var result = await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None);
        Assert.True(result.Ok);

        using (var r = await inFlight)
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("old", r.Headers.GetValues("X-Upstream").Single());
        }

        Assert.Equal("new", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/"));
        Assert.Equal(2, node.Host.Generation!.Number);
    }

    [Fact]
    public async Task Reload_WhileASlowUploadIsBeingBuffered_TheRequestStillGoesThrough()
    {
        // The old generation retires request timeout + 1 s (here 2 s) after the reload; this body takes 3 s.
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}", "health: { interval: 1h, fast_interval: 1h, timeout: 10s }\ntimeouts: { request: 1s }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var body = new DripContent(chunks: 12, every: TimeSpan.FromMilliseconds(250));

        var post = client.PostAsync($"http://127.0.0.1:{port}/upload", body);
        await body.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await File.WriteAllTextAsync(node.ConfigPath, yaml + "\n    retries: 1\n");
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None)).Ok);

        using var response = await post;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new string('x', 120), Assert.Single(up.Seen).Body);
    }

    /// <summary>A request body of known length that arrives ten bytes at a time, like a slow client's upload.</summary>
    private sealed class DripContent(int chunks, TimeSpan every) : HttpContent
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (var i = 0; i < chunks; i++)
            {
                await stream.WriteAsync("xxxxxxxxxx"u8.ToArray());
                await stream.FlushAsync();
                Started.TrySetResult();
                await Task.Delay(every, TimeProvider.System); // the client's pace, not a wait for the system under test
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = chunks * 10L;
            return true;
        }
    }

    [Fact]
    public async Task Reload_InvalidConfig_KeepsServingTheLastGoodOne_AndSaysWhy()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();

        await File.WriteAllTextAsync(node.ConfigPath, yaml + "    retries: lots\n");
        var result = await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None);

        Assert.False(result.Ok);
        Assert.Equal("a", await FailoverTests.ServedBy(client, $"http://127.0.0.1:{port}/"));
        Assert.Equal(1, node.Host.Generation!.Number);
        Assert.Contains("'retries' in service 'svc' must be a whole number, not 'lots'", node.Host.LastReloadError, StringComparison.Ordinal);
        var status = await client.GetStringAsync(new Uri(node.Admin, "api/status"));
        Assert.Contains("must be a whole number", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunningNode_ReloadsWhenTheFileChanges_AndOnSighup_AndStopsGracefullyOnSigterm()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}");
        var dir = Directory.CreateTempSubdirectory("manypaths-run-");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), "t");
        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(path, yaml);
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", $"\"{Tool.ManypathsDll}\" run --config \"{path}\" --node n1")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var url = $"http://127.0.0.1:{port}/";
            await Eventually.TrueAsync(async () => await TryServedBy(client, url) == "a", "the node serves a", TimeSpan.FromSeconds(30));

            await File.WriteAllTextAsync(path, yaml.Replace($"name: a, url: {a.Url}", $"name: b, url: {b.Url}", StringComparison.Ordinal));
            await Eventually.TrueAsync(async () => await TryServedBy(client, url) == "b", "the file change is applied");

            await File.WriteAllTextAsync(path, yaml + "    bogus_key: 1\n");
            await Eventually.TrueAsync(() => { lock (output) { return output.ToString().Contains("Unknown key 'bogus_key'", StringComparison.Ordinal); } }, "the bad config is reported");
            Assert.Equal("b", await TryServedBy(client, url));

            await File.WriteAllTextAsync(path, yaml); // back to a; also prove SIGHUP triggers a reload
            await Eventually.TrueAsync(async () => await TryServedBy(client, url) == "a", "the good config is applied again");
            Assert.Equal(0, (await Tool.RunAsync("kill", $"-HUP {process.Id}")).Exit);
            await Eventually.TrueAsync(() => { lock (output) { return output.ToString().Contains("Reloading the config (SIGHUP)", StringComparison.Ordinal); } }, "SIGHUP is received");
            await Eventually.TrueAsync(() => { lock (output) { return output.ToString().Contains("are unchanged: generation 3 stays live", StringComparison.Ordinal); } }, "an unchanged file is said to be unchanged");

            b.Behaviour = UpstreamBehaviour.Slow;
            a.Behaviour = UpstreamBehaviour.Slow;
            a.SlowDelay = TimeSpan.FromMilliseconds(1500);
            var before = a.Requests;
            var inFlight = client.GetAsync(url);
            await Eventually.TrueAsync(() => a.Requests > before, "a slow request is in flight");
            Assert.Equal(0, (await Tool.RunAsync("kill", $"-TERM {process.Id}")).Exit);
            using (var finished = await inFlight)
            {
                Assert.Equal(HttpStatusCode.OK, finished.StatusCode); // the in-flight request finished during the drain
            }

            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
            Assert.Equal(0, process.ExitCode);
            lock (output)
            {
                Assert.Contains("finishing in-flight requests", output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RunningNode_ABrokenYamlFile_IsReportedInTheLogTheApiAndThePage_OnAFileChangeAndOnSighup()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}");
        var admin = System.Text.RegularExpressions.Regex.Match(yaml, @"admin: (http://[^ ,}]+)").Groups[1].Value;
        var dir = Directory.CreateTempSubdirectory("manypaths-run-");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), "t");
        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(path, yaml);
        using var node = NodeProcess.Start(path, "n1");
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var url = $"http://127.0.0.1:{port}/";
            await Eventually.TrueAsync(async () => await TryServedBy(client, url) == "a", "the node serves a", TimeSpan.FromSeconds(30));

            // The file from the issue: a '[' left open. YamlDotNet throws a bare InvalidOperationException there.
            await File.WriteAllTextAsync(path, yaml + "    relay: [true\n    retries: 1\n");
            // The lines come out one after the other through the process's pipe: wait for the last of them too.
            await Eventually.TrueAsync(() => node.Logged("Config reload rejected") && node.Logged("is not closed (is a ']' or '}' missing?)") && node.Logged("Still serving the last good config"),
                "the broken file is logged:\n" + node.Output);
            Assert.True(node.Logged("Still serving the last good config (generation 1)"), node.Output);
            Assert.DoesNotContain("   at ", node.Output, StringComparison.Ordinal); // no stack trace

            using (var status = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync($"{admin}/api/status")))
            {
                var config = status.RootElement.GetProperty("config");
                Assert.Equal(1, config.GetProperty("generation").GetInt32());
                Assert.Contains("manypaths.yaml:10:5: This is not valid YAML", config.GetProperty("last_reload_error").GetString(), StringComparison.Ordinal);
            }

            var page = await client.GetStringAsync($"{admin}/");
            Assert.Contains("id=\"reload-error\"", page, StringComparison.Ordinal);
            Assert.Contains("The last config reload failed", page, StringComparison.Ordinal);
            Assert.Equal("a", await TryServedBy(client, url)); // the last good config keeps serving

            // SIGHUP on the same broken file says so again.
            var before = node.Output.Split("Config reload rejected").Length;
            await node.SignalAsync("HUP");
            await Eventually.TrueAsync(() => node.Output.Split("Config reload rejected").Length > before && node.Logged("Reloading the config (SIGHUP)"), "SIGHUP reports it again");

            // Fixing the file clears the error.
            await File.WriteAllTextAsync(path, yaml);
            await Eventually.TrueAsync(async () =>
            {
                using var status = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync($"{admin}/api/status"));
                return status.RootElement.GetProperty("config").GetProperty("last_reload_error").ValueKind == System.Text.Json.JsonValueKind.Null;
            }, "the error is cleared once the file is good again");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Reload_AListenerThatCouldNotBind_IsTriedAgainBySighupOnTheSameFile_AndTheErrorShowsUntilThen()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {a.Url} }}");
        await using var node = await ProxyNode.StartAsync(yaml);
        var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await File.WriteAllTextAsync(node.ConfigPath, yaml + $"\n  second:\n    listen: 127.0.0.1:{port}\n    upstreams: [ {{ name: a, url: {a.Url} }} ]\n");

        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, ConfigWatcherReason, CancellationToken.None)).Ok);
        Assert.Contains($"Cannot listen on 127.0.0.1:{port}", node.Host.LastReloadError, StringComparison.Ordinal);

        squatter.Stop(); // the operator frees the port and sends SIGHUP, the file unchanged
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, ConfigWatcherReason, CancellationToken.None)).Ok);
        Assert.Null(node.Host.LastReloadError);
        Assert.Contains(node.Host.ListenEndpoints, ep => ep.Port == port);
        Assert.Equal(3, node.Host.Generation!.Number);

        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, ConfigWatcherReason, CancellationToken.None)).Ok);
        Assert.Equal(3, node.Host.Generation!.Number); // now it is unchanged
    }

    private const string ConfigWatcherReason = Manypaths.Node.ConfigWatcher.Signal;

    private static async Task<string?> TryServedBy(HttpClient client, string url)
    {
        try
        {
            return await FailoverTests.ServedBy(client, url);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
