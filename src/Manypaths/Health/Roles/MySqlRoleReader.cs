using Manypaths.Config;
using MySqlConnector;

namespace Manypaths.Health.Roles;

/// <summary>
/// Asks one MySQL or MariaDB server, through MySqlConnector over one pooled connection, whether it is read-only
/// (<c>read_only</c>, and <c>super_read_only</c> where the server has it) and whether it replicates (IO and SQL
/// threads). A server with both off is the primary. Seconds_Behind_Source is shown, never trusted.
/// </summary>
internal sealed class MySqlRoleReader : IRoleReader
{
    private readonly MySqlDataSource _source;

    public MySqlRoleReader(Uri address, HealthCheckOptions check, string? password)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            Server = address.Host.Trim('[', ']'),
            Port = (uint)address.Port,
            UserID = check.User ?? "root",
            Password = password ?? "",
            ConnectionTimeout = (uint)Math.Max(1, Math.Ceiling(check.Timeout.TotalSeconds)),
            DefaultCommandTimeout = (uint)Math.Max(1, Math.Ceiling(check.Timeout.TotalSeconds)),
            ApplicationName = "manypaths-health",
            Pooling = true,
            MinimumPoolSize = 0,
            MaximumPoolSize = 2,
            ConnectionIdleTimeout = 30,
        };
        _source = new MySqlDataSource(builder.ConnectionString);
    }

    public async Task<RoleReport> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        var readOnly = false;
        await using (var command = new MySqlCommand("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only')", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                readOnly |= reader.GetString(1) is "ON" or "1";
            }
        }

        var (replicating, follows, behind) = await ReplicaStatusAsync(connection, cancellationToken);
        if (!readOnly)
        {
            return new RoleReport(ServerRole.Primary, Detail: "role: primary (read_only off)");
        }

        var seconds = behind is null ? "" : $", Seconds_Behind_Source {behind} (not trusted)";
        return new RoleReport(ServerRole.Replica, LinkUp: replicating, Follows: follows,
            Detail: replicating ? $"role: replica{(follows is null ? "" : $" of {follows}")}{seconds}" : "read_only, replication threads not running");
    }

    private static async Task<(bool Running, string? Follows, string? Behind)> ReplicaStatusAsync(MySqlConnection connection, CancellationToken ct)
    {
        MySqlDataReader reader;
        try
        {
            reader = await new MySqlCommand("SHOW REPLICA STATUS", connection).ExecuteReaderAsync(ct);
        }
        catch (MySqlException)
        {
            reader = await new MySqlCommand("SHOW SLAVE STATUS", connection).ExecuteReaderAsync(ct); // before MySQL 8.0.22 / MariaDB 10.5.1
        }

        await using (reader)
        {
            if (!await reader.ReadAsync(ct))
            {
                return (false, null, null);
            }

            string? Field(params string[] names)
            {
                foreach (var name in names)
                {
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        if (string.Equals(reader.GetName(i), name, StringComparison.OrdinalIgnoreCase))
                        {
                            return reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
                        }
                    }
                }

                return null;
            }

            var io = Field("Replica_IO_Running", "Slave_IO_Running");
            var sql = Field("Replica_SQL_Running", "Slave_SQL_Running");
            var host = Field("Source_Host", "Master_Host");
            var port = Field("Source_Port", "Master_Port");
            return (io == "Yes" && sql == "Yes", host is null ? null : $"{host}:{port}", Field("Seconds_Behind_Source", "Seconds_Behind_Master"));
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
