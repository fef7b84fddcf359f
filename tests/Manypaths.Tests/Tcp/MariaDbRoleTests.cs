using System.Diagnostics;
using Manypaths.Health;
using Manypaths.Tests.Support;
using MySqlConnector;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>
/// Two real MariaDB servers on loopback, a real node with a write service (mysql-primary) over both in front, role
/// checks at their defaults (every 250 ms). Which one is the primary is said by read_only alone (neither replicates).
/// Clients are MySqlConnector without a pool: each open is a new connection through the listener.
/// </summary>
[Collection(Heavy.Name)]
public sealed class MariaDbRoleTests(ITestOutputHelper output)
{
    private static (string Yaml, int Write) Config(IReadOnlyList<MariaDbServer> servers)
    {
        var write = Demo.FreePort.Next();
        var admin = Demo.FreePort.Next();
        var upstreams = string.Join("\n", servers.Select((s, i) => $"      - {{ name: m{i + 1}, address: 127.0.0.1:{s.Port} }}"));
        var yaml = $"""
            cluster: {"{"} name: test, admin_token_file: admin.token, shutdown_grace: 1s {"}"}
            nodes:
              n1: {"{"} admin: http://127.0.0.1:{admin} {"}"}
            services:
              db:
                mode: tcp
                listen: 127.0.0.1:{write}
                upstreams:
            {upstreams}
                health: {"{"} check: mysql-primary, user: root {"}"}

            """;
        return (yaml, write);
    }

    private static async Task<MySqlConnection> OpenAsync(int listener)
    {
        var c = new MySqlConnection(MariaDbServer.ConnectionString(listener, timeoutSeconds: 6));
        try
        {
            await c.OpenAsync();
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    private static async Task<int> PortAsync(MySqlConnection c)
    {
        await using var command = new MySqlCommand("SELECT @@port", c);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Verdicts(Manypaths.Service.ServiceCore service) =>
        string.Join("; ", service.Upstreams.Select(u => $"{u.Name}: {u.Health.State} ({service.Roles!.Verdict(u.Index)?.Why ?? "no verdict"})"));

    [Fact]
    public async Task ReadOnlyMovesFromAToB_NewConnectionsLandOnB_AndTheConnectionHeldToAIsClosed()
    {
        var total = Stopwatch.StartNew();
        var servers = await MariaDbServer.StartAsync(2);
        await using var a = servers[0];
        await using var b = servers[1];
        var setup = total.Elapsed;
        await b.ExecuteAsync("SET GLOBAL read_only=ON");
        var (yaml, writePort) = Config(servers);
        await using var node = await ProxyNode.StartAsync(yaml);
        var db = node.Host.Generation!.Services["db"];
        await Eventually.TrueAsync(() => db.Upstreams[0].Health.State == HealthState.Up && db.Upstreams[1].Health.State == HealthState.Down,
            "m1 (read_only off) up, m2 (read_only on) down");
        output.WriteLine($"before: {Verdicts(db)}");

        for (var i = 0; i < 3; i++)
        {
            await using var c = await OpenAsync(writePort);
            Assert.Equal(a.Port, await PortAsync(c));
        }

        await using var held = await OpenAsync(writePort);
        Assert.Equal(a.Port, await PortAsync(held));

        // A first, then B: there is never a moment with two writable servers.
        var clock = Stopwatch.StartNew();
        await a.ExecuteAsync("SET GLOBAL read_only=ON");
        var aReadOnly = clock.Elapsed;
        await b.ExecuteAsync("SET GLOBAL read_only=OFF");
        var bWritable = clock.Elapsed;

        var closedAt = TimeSpan.Zero;
        var closed = Eventually.TrueAsync(async () =>
        {
            try
            {
                await PortAsync(held);
                return false; // still open: A answers queries while read-only too
            }
            catch (Exception e) when (e is MySqlException or IOException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                closedAt = clock.Elapsed;
                return true;
            }
        }, "the connection held to A through the listener is closed", TimeSpan.FromSeconds(5));

        // Until the checks see the switch (up to an interval), new connections still land on A; one that is open on A
        // when A is demoted is closed with the held one (on_demotion: close), mid-handshake or mid-query: counted.
        var landedAt = TimeSpan.Zero;
        var onA = 0;
        var dropped = 0;
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                await using var c = await OpenAsync(writePort);
                if (await PortAsync(c) == b.Port)
                {
                    landedAt = clock.Elapsed;
                    return true;
                }

                onA++;
                return false;
            }
            catch (MySqlException)
            {
                dropped++;
                return false;
            }
        }, "a new connection through the write listener lands on B", TimeSpan.FromSeconds(5));
        await closed;
        output.WriteLine($"after: {Verdicts(db)}");

        // Every new connection lands on B from now on.
        for (var i = 0; i < 3; i++)
        {
            await using var c = await OpenAsync(writePort);
            Assert.Equal(b.Port, await PortAsync(c));
        }

        var landed = landedAt - bWritable;
        var closedAfter = closedAt - aReadOnly;
        output.WriteLine($"[report] mariadb read_only switch (mysql-primary, role checks every 250 ms, defaults): new connections land on B " +
            $"{landed.TotalMilliseconds:0} ms after B's read_only=OFF returned ({onA} landed on A meanwhile, {dropped} closed by A's demotion); the connection held to A was closed " +
            $"{closedAfter.TotalMilliseconds:0} ms after A's read_only=ON returned; fixture: 2 servers in {setup.TotalMilliseconds:0} ms, whole test {total.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(landed < TimeSpan.FromSeconds(1), $"new connections landed on B {landed.TotalMilliseconds:0} ms after the switch (must be under 1 s)");
        Assert.True(closedAfter < TimeSpan.FromSeconds(1), $"the held connection was closed {closedAfter.TotalMilliseconds:0} ms after A turned read-only (must be under 1 s)");
    }
}
