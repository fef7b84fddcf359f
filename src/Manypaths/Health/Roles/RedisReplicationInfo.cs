using System.Globalization;

namespace Manypaths.Health.Roles;

/// <summary>Reads Redis's <c>INFO replication</c> text into a <see cref="RoleReport"/>.</summary>
internal static class RedisReplicationInfo
{
    /// <summary>A replica whose last word from its master is older than this is not following it.</summary>
    public const int MaxSilenceSeconds = 10;

    public static RoleReport Parse(string info)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in info.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var colon = line.IndexOf(':');
            if (colon > 0 && !line.StartsWith('#'))
            {
                fields[line[..colon]] = line[(colon + 1)..];
            }
        }

        var role = fields.GetValueOrDefault("role");
        var history = fields.GetValueOrDefault("master_replid");
        if (role == "master")
        {
            var replicas = fields.GetValueOrDefault("connected_slaves") ?? "0";
            return new RoleReport(ServerRole.Primary, history, Long(fields, "master_repl_offset"), Detail: $"role: primary, {replicas} replica(s) connected");
        }

        if (role == "slave")
        {
            var follows = fields.TryGetValue("master_host", out var host) && fields.TryGetValue("master_port", out var port) ? $"{host}:{port}" : null;
            var linkUp = fields.GetValueOrDefault("master_link_status") == "up"
                && (Long(fields, "master_last_io_seconds_ago") is not { } silent || silent is >= 0 and < MaxSilenceSeconds);
            return new RoleReport(ServerRole.Replica, history, Long(fields, "slave_repl_offset"), LinkUp: linkUp, Follows: follows);
        }

        return new RoleReport(ServerRole.Unknown, Detail: role is null ? "INFO replication has no role" : $"role: {role}");
    }

    private static long? Long(Dictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
}
