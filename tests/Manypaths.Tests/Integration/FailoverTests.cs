using System.Collections.Concurrent;
using System.Net;
using Manypaths.Health;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>Real Kestrel upstreams on loopback, a real node in front, real failures.</summary>
public sealed class FailoverTests
{
    private const string FastHealth = "health: { path: /healthz, interval: 300ms, fast_interval: 50ms, timeout: 300ms, rise: 2, fall: 1 }";

    [Fact]
    public async Task PrimaryKilledMidLoad_NoGetFails()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}", FastHealth);
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var failures = new ConcurrentBag<string>();
        var served = new ConcurrentDictionary<string, int>();
        const int total = 2000;
        var killed = false;
        var tasks = new List<Task>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            // ~200 requests per second, paced by the wall clock so the kill lands mid-load.
            var due = TimeSpan.FromMilliseconds(i * 5) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, TimeProvider.System);
            }

            if (i == total / 3 && !killed)
            {
                killed = true;
                _ = a.KillAsync();
            }

            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    using var r = await client.GetAsync($"http://127.0.0.1:{port}/work");
                    if (r.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Add($"status {(int)r.StatusCode}");
                        return;
                    }

                    served.AddOrUpdate(r.Headers.GetValues("X-Upstream").First(), 1, (_, n) => n + 1);
                }
                catch (Exception e)
                {
                    failures.Add(e.Message);
                }
            }));
        }

        await Task.WhenAll(tasks);
        Assert.Empty(failures);
        Assert.Equal(total, served.Values.Sum());
        Assert.True(served.GetValueOrDefault("b") > total / 2, $"b served {served.GetValueOrDefault("b")}");
        Assert.Equal(HealthState.Down, node.Host.Generation!.Services["svc"].Upstreams[0].Health.State);
    }

    [Fact]
    public async Task BackupTier_ServesWhilePrimaryIsDown_AndPrimaryReturnsAfterRise()
    {
        await using var primary = await TestUpstream.StartAsync("primary");
        await using var backup = await TestUpstream.StartAsync("backup");
        var (yaml, port) = Yaml.Service($"- {{ name: primary, url: {primary.Url} }}\n- {{ name: backup, url: {backup.Url}, tier: backup }}",
            FastHealth + "\npassive: { eject: 200ms }");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var url = $"http://127.0.0.1:{port}/";

        Assert.Equal("primary", await ServedBy(client, url));
        primary.HealthOk = false;
        await Eventually.TrueAsync(async () => await ServedBy(client, url) == "backup", "traffic moves to the backup tier");
        var health = node.Host.Generation!.Services["svc"].Upstreams[0].Health;
        Assert.Equal(HealthState.Down, health.State);

        primary.HealthOk = true;
        await Eventually.TrueAsync(() => health.State == HealthState.Up, "primary passes rise probes");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("primary", await ServedBy(client, url));
        }
    }

    [Fact]
    public async Task Region_OwnRegionPreferred_CrossesRegionOnlyWhenItHasNothingHealthy()
    {
        await using var near = await TestUpstream.StartAsync("near");
        await using var far = await TestUpstream.StartAsync("far");
        var (yaml, port) = Yaml.Service($"- {{ name: far, url: {far.Url}, region: eu-west, weight: 50 }}\n- {{ name: near, url: {near.Url}, region: in-south }}",
            FastHealth, region: "in-south");
        await using var node = await ProxyNode.StartAsync(yaml);
        using var client = new HttpClient();
        var url = $"http://127.0.0.1:{port}/";
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("near", await ServedBy(client, url));
        }

        await near.KillAsync();
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("far", await ServedBy(client, url));
        }
    }

    [Fact]
    public async Task HardDownUpstream_IsEjectedWithinOneFailedRequest()
    {
        await using var alive = await TestUpstream.StartAsync("alive");
        var dead = new TestUpstream("dead"); // never started: connection refused
        // Probes every hour: only passive health can notice, and it must do so on the first failed request.
        var (yaml, port) = Yaml.Service($"- {{ name: dead, url: {dead.Url} }}\n- {{ name: alive, url: {alive.Url} }}",
            "health: { interval: 1h, timeout: 10s, fast_interval: 1h }\nretries: 1");
        await using var node = await ProxyNode.StartAsync(yaml);
        var deadHealth = node.Host.Generation!.Services["svc"].Upstreams[0].Health;
        await Eventually.TrueAsync(() => deadHealth.State == HealthState.Down || alive.Probes > 0, "first probe round");
        using var client = new HttpClient();
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("alive", await ServedBy(client, $"http://127.0.0.1:{port}/"));
        }

        var metrics = node.Host.Exporter.Render();
        var deadAttempts = metrics.Split('\n').Where(l => l.StartsWith("manypaths_upstream_attempts_total", StringComparison.Ordinal) && l.Contains("upstream=\"dead\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(deadAttempts <= 1, $"the dead upstream got {deadAttempts} attempts");
        Assert.Equal(HealthState.Down, deadHealth.State);
    }

    internal static async Task<string> ServedBy(HttpClient client, string url)
    {
        using var r = await client.GetAsync(url);
        return r.StatusCode == HttpStatusCode.OK ? r.Headers.GetValues("X-Upstream").First() : $"status {(int)r.StatusCode}";
    }
}
