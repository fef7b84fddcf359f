using System.Globalization;
using Manypaths.Config;
using Npgsql;

namespace Manypaths.Health.Roles;

/// <summary>
/// Asks one PostgreSQL server, through Npgsql over one pooled connection kept between checks, whether it is in
/// recovery, where its WAL is (current on a primary, replayed on a standby), its timeline and whether its WAL
/// receiver streams. Positions are compared only within one system identifier.
/// </summary>
internal sealed class PostgresRoleReader : IRoleReader
{
    private const string Query = """
        SELECT pg_is_in_recovery(),
               (SELECT system_identifier::text FROM pg_control_system()),
               CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END,
               CASE WHEN pg_is_in_recovery() THEN NULL ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END,
               (SELECT status FROM pg_stat_wal_receiver LIMIT 1),
               (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver LIMIT 1)
        """;

    private readonly NpgsqlDataSource _source;

    public PostgresRoleReader(Uri address, HealthCheckOptions check, string? password)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = address.Host.Trim('[', ']'),
            Port = address.Port,
            Username = check.User ?? "postgres",
            Password = password,
            Database = check.Database ?? "postgres",
            Timeout = (int)Math.Max(1, Math.Ceiling(check.Timeout.TotalSeconds)),
            CommandTimeout = (int)Math.Max(1, Math.Ceiling(check.Timeout.TotalSeconds)),
            ApplicationName = "manypaths-health",
            Pooling = true,
            MinPoolSize = 0,
            MaxPoolSize = 2,
            // A server restarted under us must not leave a dead connection in the pool for the next check.
            ConnectionIdleLifetime = 30,
        };
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public async Task<RoleReport> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(Query, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new RoleReport(ServerRole.Unknown, Detail: "no answer row");
        }

        var inRecovery = reader.GetBoolean(0);
        var system = reader.IsDBNull(1) ? null : reader.GetString(1);
        var lsn = reader.IsDBNull(2) ? null : ParseLsn(reader.GetString(2));
        long? timeline = reader.IsDBNull(3) ? null : reader.GetInt64(3);
        var receiver = reader.IsDBNull(4) ? null : reader.GetString(4);
        var sender = reader.IsDBNull(5) ? null : reader.GetString(5);
        return inRecovery
            ? new RoleReport(ServerRole.Replica, system, lsn, LinkUp: receiver == "streaming", Follows: sender)
            : new RoleReport(ServerRole.Primary, system, lsn, timeline, Detail: $"role: primary, timeline {timeline}");
    }

    /// <summary>An LSN such as 0/3000148 as a byte position.</summary>
    internal static long? ParseLsn(string text)
    {
        var slash = text.IndexOf('/');
        return slash > 0
            && long.TryParse(text[..slash], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var high)
            && long.TryParse(text[(slash + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var low)
            ? (high << 32) + low
            : null;
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
