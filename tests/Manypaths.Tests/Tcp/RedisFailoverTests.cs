using System.Diagnostics;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>
/// Real redis-server and redis-sentinel processes on loopback, a real node with a write service (redis-primary) and a
/// read service (redis-replica) in front, the defaults of role checks (every 250 ms).
/// </summary>
[Collection(Heavy.Name)]
public sealed class RedisFailoverTests(ITestOutputHelper output)
{
    private const string WriterName = "manypaths-test-writer";

    private static (string Yaml, int Write, int Read) Config(RedisServers redis, bool sentinels)
    {
        var write = Demo.FreePort.Next();
        var read = Demo.FreePort.Next();
        var admin = Demo.FreePort.Next();
        var upstreams = string.Join("\n", redis.Ports.Select((p, i) => $"      - {{ name: r{i + 1}, address: 127.0.0.1:{p} }}"));
        var sentinelBlock = sentinels
            ? $"    sentinels: {{ master: {RedisServers.MasterName}, addresses: [{string.Join(", ", redis.SentinelPorts.Select(p => $"127.0.0.1:{p}"))}] }}\n"
            : "";
        var yaml = $"""
            cluster: {"{"} name: test, admin_token_file: admin.token, shutdown_grace: 1s {"}"}
            nodes:
              n1: {"{"} admin: http://127.0.0.1:{admin} {"}"}
            services:
              cache:
                mode: tcp
                listen: 127.0.0.1:{write}
                upstreams:
            {upstreams}
                health: {"{"} check: redis-primary {"}"}
            {sentinelBlock}  cache-read:
                mode: tcp
                listen: 127.0.0.1:{read}
                upstreams:
            {upstreams}
                health: {"{"} check: redis-replica, max_lag: 1MB {"}"}

            """;
        return (yaml, write, read);
    }

    [Fact]
    public async Task MasterKilled_WritesFollowTheSentinelsPromotion_ReadsGoOn_AndTheOldMasterTakesNoWrite()
    {
        await using var redis = await RedisServers.StartAsync(replicas: 2, sentinels: 3);
        var (yaml, writePort, readPort) = Config(redis, sentinels: true);
        await using var node = await ProxyNode.StartAsync(yaml);
        var cache = node.Host.Generation!.Services["cache"];
        await Eventually.TrueAsync(() => cache.Upstreams[0].Health.State == Manypaths.Health.HealthState.Up, "r1 is the write service's primary");

        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var acked = new List<(int Key, TimeSpan At)>();
        var readAcks = new List<TimeSpan>();
        var readErrors = 0;
        var writer = Task.Run(() => WriteLoopAsync(writePort, acked, clock, stop.Token));
        var reader = Task.Run(async () =>
        {
            readErrors = await ReadLoopAsync(readPort, readAcks, clock, stop.Token);
        });
        await Eventually.TrueAsync(() => Count(acked) > 200, "writes flow through the write listener");

        var oldMaster = redis.Ports[0];
        var killedAt = clock.Elapsed;
        redis.Kill(oldMaster);
        var promoted = -1;
        var promotedAt = TimeSpan.Zero;
        await Eventually.TrueAsync(async () =>
        {
            foreach (var port in redis.Ports.Skip(1))
            {
                if (await redis.RoleAsync(port) == "master")
                {
                    promoted = port;
                    promotedAt = clock.Elapsed;
                    return true;
                }
            }

            return false;
        }, "the sentinels promote a replica", TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => Last(acked).At > promotedAt, "a write is acknowledged after the promotion", TimeSpan.FromSeconds(10));
        var firstAfter = First(acked, promotedAt);

        // The old master comes back empty (nothing is persisted) and, for a moment, says it is a master: the
        // sentinels' majority must keep writes off it until they have made it a replica.
        redis.StartServer(oldMaster, master: null);
        await Eventually.TrueAsync(async () => await redis.RoleAsync(oldMaster) == "slave", "the old master rejoins as a replica", TimeSpan.FromSeconds(30));
        var writesBefore = Count(acked);
        await Eventually.TrueAsync(() => Count(acked) > writesBefore + 100, "writes go on after the old master rejoined");
        await stop.CancelAsync();
        await writer;
        await reader;

        List<(int Key, TimeSpan At)> writes;
        lock (acked)
        {
            writes = [.. acked];
        }

        var gap = Gap(writes.Select(w => w.At).ToList(), killedAt);
        var readGap = Gap(readAcks, killedAt);
        var lost = await LostAsync(promoted, writes.Where(w => w.At < killedAt).Select(w => w.Key).ToList());
        var clients = await RedisServers.TryAsync(oldMaster, "CLIENT", "LIST") ?? "";
        output.WriteLine($"[report] redis failover (3 sentinels, down-after 1000 ms; role checks every 250 ms, defaults): write gap {gap.TotalMilliseconds:0} ms; " +
            $"promotion seen {(promotedAt - killedAt).TotalMilliseconds:0} ms after the kill; first write through Manypaths {(firstAfter - promotedAt).TotalMilliseconds:0} ms after the promotion; " +
            $"{writes.Count:N0} writes acknowledged, {lost} of those acknowledged before the kill lost by Redis's asynchronous replication; " +
            $"reads: longest gap {readGap.TotalMilliseconds:0} ms, {readAcks.Count:N0} answered, {readErrors} errors");
        Assert.True(gap < TimeSpan.FromSeconds(3), $"write gap {gap.TotalMilliseconds:0} ms (must be under 3 s)");
        Assert.True(readGap < TimeSpan.FromSeconds(3), $"read gap {readGap.TotalMilliseconds:0} ms: the read listener must keep serving");
        Assert.DoesNotContain("name=" + WriterName, clients, StringComparison.Ordinal);
        var last = writes[^1].Key;
        Assert.Equal(last.ToString(System.Globalization.CultureInfo.InvariantCulture), await RedisServers.TryAsync(promoted, "GET", $"k{last}"));
    }

    [Fact]
    public async Task ManualPromotion_ClosesConnectionsToTheDemotedMaster_WithinAnInterval()
    {
        await using var redis = await RedisServers.StartAsync(replicas: 1);
        var (yaml, writePort, _) = Config(redis, sentinels: false);
        await using var node = await ProxyNode.StartAsync(yaml);
        var cache = node.Host.Generation!.Services["cache"];
        await Eventually.TrueAsync(() => cache.Upstreams[0].Health.State == Manypaths.Health.HealthState.Up, "r1 is the primary");
        using var held = await RespClient.ConnectAsync(writePort);
        Assert.Equal("+OK", await held.CommandAsync("SET", "before", "1"));

        // A reload in between: the connection opened on the old generation must still be judged by the new one.
        var generation = node.Host.Generation!.Number;
        await File.WriteAllTextAsync(node.ConfigPath, (await File.ReadAllTextAsync(node.ConfigPath)).Replace("shutdown_grace: 1s", "shutdown_grace: 2s", StringComparison.Ordinal));
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None)).Ok);
        Assert.Equal(generation + 1, node.Host.Generation!.Number);
        Assert.Equal(1, node.Host.Generation!.Tcp["cache"].Connections.To("r1"));

        // Demote first, then promote: there is never a moment with two masters.
        var clock = Stopwatch.StartNew();
        Assert.Equal("+OK", await RedisServers.TryAsync(redis.Ports[0], "REPLICAOF", "127.0.0.1", redis.Ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal("+OK", await RedisServers.TryAsync(redis.Ports[1], "REPLICAOF", "NO", "ONE"));
        var closedAt = TimeSpan.Zero;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                var reply = await held.CommandAsync(TimeSpan.FromSeconds(1), "PING");
                return false; // still open (the old master answers PING as a replica too)
            }
            catch (IOException)
            {
                closedAt = clock.Elapsed;
                return true;
            }
        }, "the held connection to the demoted master is closed", TimeSpan.FromSeconds(5));

        using var fresh = await RespClient.ConnectAsync(writePort);
        Assert.Equal("+OK", await fresh.CommandAsync("SET", "after", "2"));
        Assert.Equal("2", await RedisServers.TryAsync(redis.Ports[1], "GET", "after"));
        output.WriteLine($"[report] manual promotion (REPLICAOF): the connection held to the demoted master was closed {closedAt.TotalMilliseconds:0} ms after the demotion (check interval 250 ms)");
        Assert.True(closedAt < TimeSpan.FromSeconds(1), $"closed after {closedAt.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task AReadServiceWithAGrace_LetsAnUnfitReplicasConnectionsFinish_ThenClosesThem()
    {
        await using var redis = await RedisServers.StartAsync(replicas: 1);
        var read = Demo.FreePort.Next();
        var admin = Demo.FreePort.Next();
        var yaml = $"""
            cluster: {"{"} name: test, admin_token_file: admin.token, shutdown_grace: 1s {"}"}
            nodes:
              n1: {"{"} admin: http://127.0.0.1:{admin} {"}"}
            services:
              cache-read:
                mode: tcp
                listen: 127.0.0.1:{read}
                upstreams:
                  - {"{"} name: r1, address: 127.0.0.1:{redis.Ports[0]} {"}"}
                  - {"{"} name: r2, address: 127.0.0.1:{redis.Ports[1]} {"}"}
                health: {"{"} check: redis-replica {"}"}
                on_demotion: grace:1500ms

            """;
        await using var node = await ProxyNode.StartAsync(yaml);
        var service = node.Host.Generation!.Services["cache-read"];
        await Eventually.TrueAsync(() => service.Upstreams[1].Health.State == Manypaths.Health.HealthState.Up
            && service.Roles!.SaysPrimary(0), "r2 is a fit replica and r1 is known as the primary");
        using var held = await RespClient.ConnectAsync(read);
        Assert.Equal("+PONG", await held.CommandAsync("PING"));
        Assert.Equal(1, node.Host.Generation!.Tcp["cache-read"].Connections.On("r2", null));

        // r2 stops following (its master is now an address where nothing listens) while r1 answers: unfit for reads.
        Assert.Equal("+OK", await RedisServers.TryAsync(redis.Ports[1], "REPLICAOF", "127.0.0.1", Demo.FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await Eventually.TrueAsync(() => service.Upstreams[1].Health.State == Manypaths.Health.HealthState.Down, "r2 is judged unfit");
        var downAt = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("+PONG", await held.CommandAsync("PING")); // within the grace: still served
        var closedAfter = TimeSpan.Zero;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await held.CommandAsync(TimeSpan.FromSeconds(1), "PING");
                return false;
            }
            catch (IOException)
            {
                closedAfter = downAt.Elapsed;
                return true;
            }
        }, "the connection is closed once the grace is over", TimeSpan.FromSeconds(5));
        output.WriteLine($"[report] on_demotion grace:1500ms: the read connection to the unfit replica was closed {closedAfter.TotalMilliseconds:0} ms after it was judged unfit");
        Assert.True(closedAfter > TimeSpan.FromMilliseconds(1000), $"closed after {closedAfter.TotalMilliseconds:0} ms: before the grace was over");

        using var fresh = await RespClient.ConnectAsync(read); // new reads fall back to the primary
        Assert.Equal("+PONG", await fresh.CommandAsync("PING"));
        Assert.Equal(1, node.Host.Generation!.Tcp["cache-read"].Connections.On("r1", null));
    }

    [Fact]
    public async Task TwoMastersWithoutSentinels_NewWriteConnectionsAreRefused_UntilOneIsDemoted()
    {
        await using var redis = await RedisServers.StartAsync(replicas: 1);
        var (yaml, writePort, _) = Config(redis, sentinels: false);
        await using var node = await ProxyNode.StartAsync(yaml);
        var cache = node.Host.Generation!.Services["cache"];
        await Eventually.TrueAsync(() => cache.Upstreams[0].Health.State == Manypaths.Health.HealthState.Up, "r1 is the primary");

        Assert.Equal("+OK", await RedisServers.TryAsync(redis.Ports[1], "REPLICAOF", "NO", "ONE")); // split brain
        await Eventually.TrueAsync(() => cache.Roles!.SplitBrain is not null, "the split is seen");
        Assert.Contains("all say primary", cache.Roles!.SplitBrain, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => cache.Upstreams.All(u => u.Health.State != Manypaths.Health.HealthState.Up), "neither master is fit for writes");
        using (var refused = await RespClient.ConnectAsync(writePort))
        {
            // Held (waiting for one primary) or closed, never written: no answer comes.
            await Assert.ThrowsAsync<IOException>(() => refused.CommandAsync(TimeSpan.FromSeconds(1), "SET", "split", "1"));
        }

        Assert.Equal("(nil)", await RedisServers.TryAsync(redis.Ports[0], "GET", "split"));
        Assert.Equal("(nil)", await RedisServers.TryAsync(redis.Ports[1], "GET", "split"));

        Assert.Equal("+OK", await RedisServers.TryAsync(redis.Ports[0], "REPLICAOF", "127.0.0.1", redis.Ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await Eventually.TrueAsync(() => cache.Roles!.SplitBrain is null && cache.Upstreams[1].Health.State == Manypaths.Health.HealthState.Up, "r2 alone is the primary");
        using var c = await RespClient.ConnectAsync(writePort);
        Assert.Equal("+OK", await c.CommandAsync("SET", "k", "v"));
        Assert.Equal("v", await RedisServers.TryAsync(redis.Ports[1], "GET", "k"));
    }

    [Fact]
    public async Task StatusMetricsAndCli_ShowEachUpstreamsRoleLagAndConnections()
    {
        await using var redis = await RedisServers.StartAsync(replicas: 1);
        var (yaml, writePort, readPort) = Config(redis, sentinels: false);
        await using var node = await ProxyNode.StartAsync(yaml);
        var g = node.Host.Generation!;
        await Eventually.TrueAsync(() => g.Services["cache"].Upstreams[0].Health.State == Manypaths.Health.HealthState.Up
            && g.Services["cache-read"].Upstreams[1].Health.State == Manypaths.Health.HealthState.Up, "the primary and the replica are fit");
        using var writer = await RespClient.ConnectAsync(writePort);
        Assert.Equal("+OK", await writer.CommandAsync("SET", "k", "v"));
        using var reader = await RespClient.ConnectAsync(readPort);
        await Eventually.TrueAsync(async () => await reader.CommandAsync("GET", "k") == "v", "the write is read back through the read service (replication is asynchronous)");

        using var http = new HttpClient();
        System.Text.Json.Nodes.JsonNode cache = null!, read = null!;
        // The lag is measured once the read service's board has heard both the primary and the replica (one interval).
        await Eventually.TrueAsync(async () =>
        {
            var status = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri(node.Admin, "api/status")))!;
            cache = status["services"]!.AsArray().First(s => (string?)s!["name"] == "cache")!;
            read = status["services"]!.AsArray().First(s => (string?)s!["name"] == "cache-read")!;
            // Each service has its own board: the write service's has heard the replica once its role shows.
            return read["upstreams"]![1]!["lag_bytes"] is not null && (string?)cache["upstreams"]![1]!["role"] != "unknown";
        }, "the replica's lag is shown, and both services have heard every upstream's role");
        Assert.Equal("primary", (string?)cache["upstreams"]![0]!["role"]);
        Assert.Equal("replica", (string?)cache["upstreams"]![1]!["role"]);
        Assert.Equal(1, (int?)cache["upstreams"]![0]!["connections"]);
        Assert.Equal(1, (int?)read["upstreams"]![1]!["connections"]); // the read went to the replica, not the primary
        Assert.NotNull(read["upstreams"]![1]!["lag_bytes"]);
        Assert.Equal($"127.0.0.1:{redis.Ports[0]}", (string?)cache["upstreams"]![0]!["url"]);

        var metrics = await http.GetStringAsync(new Uri(node.Admin, "metrics"));
        Assert.Contains("manypaths_upstream_role{service=\"cache\",upstream=\"r1\",role=\"primary\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_tcp_connections{service=\"cache\",upstream=\"r1\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("manypaths_split_brain{service=\"cache\"} 0", metrics, StringComparison.Ordinal);
        var (exit, stdout, stderr) = await Tool.RunAsync("promtool", "check metrics", stdin: metrics);
        Assert.True(exit == 0, $"promtool said: {stdout}{stderr}");

        var cli = await Tool.ManypathsAsync($"status --config \"{node.ConfigPath}\" --node n1");
        Assert.True(cli.Exit == 0, cli.Stderr);
        Assert.Contains("role", cli.Stdout, StringComparison.Ordinal);
        Assert.Contains("primary", cli.Stdout, StringComparison.Ordinal);
        Assert.Contains("replica", cli.Stdout, StringComparison.Ordinal);
    }

    /// <summary>SET k{i} i in a loop, reconnecting at once after any failure; every acknowledged key is recorded.</summary>
    private static async Task WriteLoopAsync(int port, List<(int Key, TimeSpan At)> acked, Stopwatch clock, CancellationToken stop)
    {
        var i = 0;
        while (!stop.IsCancellationRequested && i < 1_000_000)
        {
            RespClient? c = null;
            try
            {
                c = await RespClient.ConnectAsync(port, TimeSpan.FromSeconds(6));
                await c.CommandAsync(TimeSpan.FromSeconds(2), "CLIENT", "SETNAME", WriterName);
                while (!stop.IsCancellationRequested)
                {
                    var key = ++i;
                    var reply = await c.CommandAsync(TimeSpan.FromSeconds(2), "SET", $"k{key}", key.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    if (reply != "+OK")
                    {
                        break; // -READONLY or an error: this connection is not to the master; reconnect
                    }

                    lock (acked)
                    {
                        acked.Add((key, clock.Elapsed));
                    }
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
            }
            finally
            {
                c?.Dispose();
            }
        }
    }

    private static async Task<int> ReadLoopAsync(int port, List<TimeSpan> acks, Stopwatch clock, CancellationToken stop)
    {
        var errors = 0;
        while (!stop.IsCancellationRequested)
        {
            RespClient? c = null;
            try
            {
                c = await RespClient.ConnectAsync(port, TimeSpan.FromSeconds(6));
                while (!stop.IsCancellationRequested)
                {
                    var reply = await c.CommandAsync(TimeSpan.FromSeconds(2), "GET", "k1");
                    if (reply.StartsWith('-'))
                    {
                        errors++;
                        break;
                    }

                    lock (acks)
                    {
                        acks.Add(clock.Elapsed);
                    }
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
                errors++;
            }
            finally
            {
                c?.Dispose();
            }
        }

        return errors;
    }

    /// <summary>How many of <paramref name="keys"/> the new master does not have.</summary>
    private static async Task<int> LostAsync(int port, List<int> keys)
    {
        var lost = 0;
        foreach (var chunk in keys.Chunk(500))
        {
            var reply = await RedisServers.TryAsync(port, ["EXISTS", .. chunk.Select(k => $"k{k}")]);
            lost += chunk.Length - int.Parse(reply!.TrimStart(':'), System.Globalization.CultureInfo.InvariantCulture);
        }

        return lost;
    }

    /// <summary>The longest time without an acknowledgement around <paramref name="from"/>.</summary>
    private static TimeSpan Gap(List<TimeSpan> acks, TimeSpan from)
    {
        lock (acks)
        {
            var before = acks.Where(a => a <= from).DefaultIfEmpty(from).Max();
            var after = acks.Where(a => a > from).DefaultIfEmpty(TimeSpan.MaxValue).Min();
            var gap = after == TimeSpan.MaxValue ? TimeSpan.MaxValue : after - before;
            var sorted = acks.Where(a => a > from).Order().ToList();
            for (var i = 1; i < sorted.Count; i++)
            {
                gap = sorted[i] - sorted[i - 1] > gap ? sorted[i] - sorted[i - 1] : gap;
            }

            return gap;
        }
    }

    private static int Count(List<(int Key, TimeSpan At)> acked)
    {
        lock (acked)
        {
            return acked.Count;
        }
    }

    private static (int Key, TimeSpan At) Last(List<(int Key, TimeSpan At)> acked)
    {
        lock (acked)
        {
            return acked.Count == 0 ? (0, TimeSpan.Zero) : acked[^1];
        }
    }

    private static TimeSpan First(List<(int Key, TimeSpan At)> acked, TimeSpan after)
    {
        lock (acked)
        {
            return acked.First(a => a.At > after).At;
        }
    }
}
