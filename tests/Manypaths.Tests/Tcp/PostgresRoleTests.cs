using System.Diagnostics;
using Manypaths.Health;
using Manypaths.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>
/// Real PostgreSQL 15 servers on loopback (a primary and a streaming standby made with pg_basebackup), a real node
/// with a write service (postgres-primary) and a read service (postgres-standby) in front, role checks at their
/// defaults (every 250 ms). Clients are Npgsql, each open a new connection through the listener.
/// </summary>
[Collection(Heavy.Name)]
public sealed class PostgresRoleTests(ITestOutputHelper output)
{
    private const string Schema = "CREATE TABLE writes (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())";

    private static (string Yaml, int Write, int Read) Config(PostgresServers pg)
    {
        var write = Demo.FreePort.Next();
        var read = Demo.FreePort.Next();
        var admin = Demo.FreePort.Next();
        var upstreams = string.Join("\n", pg.Ports.Select((p, i) => $"      - {{ name: p{i + 1}, address: 127.0.0.1:{p} }}"));
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
                health: {"{"} check: postgres-primary, user: postgres {"}"}
              db-read:
                mode: tcp
                listen: 127.0.0.1:{read}
                upstreams:
            {upstreams}
                health: {"{"} check: postgres-standby, user: postgres {"}"}

            """;
        return (yaml, write, read);
    }

    /// <summary>pg_is_in_recovery() and the server's own port, over a new connection through <paramref name="listener"/>.</summary>
    private static async Task<(bool InRecovery, int ServerPort)> WhereAsync(int listener)
    {
        await using var c = new NpgsqlConnection(PostgresServers.ConnectionString(listener, timeoutSeconds: 6));
        await c.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_is_in_recovery(), inet_server_port()", c);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetBoolean(0), reader.GetInt32(1));
    }

    private static string Verdicts(Manypaths.Service.ServiceCore service) =>
        string.Join("; ", service.Upstreams.Select(u => $"{u.Name}: {u.Health.State} ({service.Roles!.Verdict(u.Index)?.Why ?? "no verdict"})"));

    [Fact]
    public async Task WriteServiceReachesThePrimary_ReadServiceTheStandby()
    {
        await using var pg = await PostgresServers.StartAsync(standby: true, Schema);
        output.WriteLine($"[report] postgres fixture: initdb + start + pg_basebackup -R + standby streaming in {pg.SetupTime.TotalMilliseconds:0} ms");
        var (yaml, writePort, readPort) = Config(pg);
        await using var node = await ProxyNode.StartAsync(yaml);
        var db = node.Host.Generation!.Services["db"];
        var dbRead = node.Host.Generation!.Services["db-read"];
        await Eventually.TrueAsync(() => db.Upstreams[0].Health.State == HealthState.Up && db.Upstreams[1].Health.State == HealthState.Down,
            "the write service: p1 (primary) up, p2 (standby) down");
        await Eventually.TrueAsync(() => dbRead.Upstreams[1].Health.State == HealthState.Up, "the read service: p2 (standby) up");
        output.WriteLine($"write service: {Verdicts(db)}");
        output.WriteLine($"read service: {Verdicts(dbRead)}");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal((false, pg.Primary), await WhereAsync(writePort));
            Assert.Equal((true, pg.Standby), await WhereAsync(readPort));
        }

        // A write through the write listener is taken, by the primary, and streams to the standby.
        await using (var c = new NpgsqlConnection(PostgresServers.ConnectionString(writePort)))
        {
            await c.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO writes (n) VALUES (1)", c);
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        await Eventually.TrueAsync(async () => await PostgresServers.TryScalarAsync<long>(pg.Standby, "SELECT count(*) FROM writes") == 1, "the row streams to the standby");

        // And a write through the read listener is refused by the standby: proof it went there.
        await using (var c = new NpgsqlConnection(PostgresServers.ConnectionString(readPort)))
        {
            await c.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO writes (n) VALUES (2)", c);
            var e = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, e.SqlState);
        }
    }

    [Fact]
    public async Task PrimaryStoppedAndStandbyPromoted_WritesThroughTheWriteListenerLandOnTheNewPrimaryWithin2s()
    {
        var total = Stopwatch.StartNew();
        await using var pg = await PostgresServers.StartAsync(standby: true, Schema);
        var (yaml, writePort, _) = Config(pg);
        await using var node = await ProxyNode.StartAsync(yaml);
        var db = node.Host.Generation!.Services["db"];
        await Eventually.TrueAsync(() => db.Upstreams[0].Health.State == HealthState.Up && db.Upstreams[1].Health.State == HealthState.Down,
            "the write service: p1 (primary) up, p2 (standby) down");
        Assert.Equal((false, pg.Primary), await WhereAsync(writePort));

        var clock = Stopwatch.StartNew();
        await pg.StopImmediateAsync(pg.Primary);
        var stopped = clock.Elapsed;

        // The writer starts now, before the promotion: a client that finds nobody fit waits in the listener
        // (timeouts.connect, 5 s) rather than being refused, so its write is taken the moment Manypaths sees the new
        // primary. Beside it, the standby is asked directly when it leaves recovery (pg_ctl promote -w looks only every
        // 100 ms, so the promotion is done up to 100 ms before it returns).
        var attempts = 0;
        var failures = new List<string>();
        var written = TimeSpan.Zero;
        var landedOn = 0;
        var writer = Eventually.TrueAsync(async () =>
        {
            attempts++;
            try
            {
                await using var c = new NpgsqlConnection(PostgresServers.ConnectionString(writePort, timeoutSeconds: 6));
                await c.OpenAsync();
                await using var insert = new NpgsqlCommand("INSERT INTO writes (n) VALUES (1) RETURNING inet_server_port()", c);
                landedOn = (int)(await insert.ExecuteScalarAsync())!;
                written = clock.Elapsed;
                return true;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
            {
                lock (failures)
                {
                    failures.Add($"{clock.Elapsed.TotalMilliseconds:0} ms: {e.Message}");
                }

                return false;
            }
        }, "a write through the write listener is taken", TimeSpan.FromSeconds(10));
        var leftRecovery = TimeSpan.Zero;
        var recovery = Eventually.TrueAsync(async () =>
        {
            if (await PostgresServers.TryScalarAsync<bool?>(pg.Standby, "SELECT pg_is_in_recovery()") == false)
            {
                leftRecovery = clock.Elapsed;
                return true;
            }

            return false;
        }, "the promoted standby leaves recovery");

        await pg.PromoteAsync(pg.Standby);
        var promoted = clock.Elapsed;
        try
        {
            await recovery;
            await writer;
        }
        finally
        {
            output.WriteLine($"write service: {Verdicts(db)}; failed attempts: {(failures.Count == 0 ? "none" : string.Join(" | ", failures))}");
        }

        Assert.Equal(pg.Standby, landedOn);
        Assert.Equal(1L, await PostgresServers.ScalarAsync<long>(pg.Standby, "SELECT count(*) FROM writes WHERE n = 1"));
        Assert.Equal((false, pg.Standby), await WhereAsync(writePort));
        var fromPromote = written - promoted;
        var fromRecovery = written - leftRecovery;
        output.WriteLine($"[report] postgres failover (pg_ctl stop -m immediate, then pg_ctl promote; role checks every 250 ms, defaults): " +
            $"stop took {stopped.TotalMilliseconds:0} ms; promote issued at +{stopped.TotalMilliseconds:0} ms, standby out of recovery (polled directly) at " +
            $"+{leftRecovery.TotalMilliseconds:0} ms, pg_ctl promote returned at +{promoted.TotalMilliseconds:0} ms; first write through Manypaths (a client " +
            $"waiting in the listener since the stop) at +{written.TotalMilliseconds:0} ms: {fromRecovery.TotalMilliseconds:0} ms after the standby left " +
            $"recovery, {fromPromote.TotalMilliseconds:0} ms after the promote returned, {attempts} attempt(s); " +
            $"fixture setup {pg.SetupTime.TotalMilliseconds:0} ms, whole test {total.Elapsed.TotalMilliseconds:0} ms");
        // Measured from the earlier of the two moments (the standby left recovery before pg_ctl returned), so the stricter.
        Assert.True(fromRecovery < TimeSpan.FromSeconds(2) && fromPromote < TimeSpan.FromSeconds(2),
            $"first write {fromRecovery.TotalMilliseconds:0} ms after the standby left recovery, {fromPromote.TotalMilliseconds:0} ms after the promote returned (must be under 2 s)");
    }
}
