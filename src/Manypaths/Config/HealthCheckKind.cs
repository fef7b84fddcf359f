namespace Manypaths.Config;

/// <summary>What an active check asks an upstream ('health.check').</summary>
public enum HealthCheckKind
{
    /// <summary>GET the health path (mode: http).</summary>
    Http,

    /// <summary>A TCP connect succeeds (the default for mode: tcp).</summary>
    Tcp,
    RedisPrimary,
    RedisReplica,
    PostgresPrimary,
    PostgresStandby,
    MysqlPrimary,
    MysqlReplica,
}

public static class HealthCheckKinds
{
    /// <summary>The names used in config, in the order they are listed in errors.</summary>
    public static readonly IReadOnlyDictionary<string, HealthCheckKind> ByName = new Dictionary<string, HealthCheckKind>(StringComparer.Ordinal)
    {
        ["http"] = HealthCheckKind.Http,
        ["tcp"] = HealthCheckKind.Tcp,
        ["redis-primary"] = HealthCheckKind.RedisPrimary,
        ["redis-replica"] = HealthCheckKind.RedisReplica,
        ["postgres-primary"] = HealthCheckKind.PostgresPrimary,
        ["postgres-standby"] = HealthCheckKind.PostgresStandby,
        ["mysql-primary"] = HealthCheckKind.MysqlPrimary,
        ["mysql-replica"] = HealthCheckKind.MysqlReplica,
    };

    public static string Name(this HealthCheckKind kind) => ByName.First(p => p.Value == kind).Key;

    /// <summary>Asks a database which role it has (and so decides where writes or reads go).</summary>
    public static bool IsRoleCheck(this HealthCheckKind kind) => kind >= HealthCheckKind.RedisPrimary;

    /// <summary>A check for the one writable upstream.</summary>
    public static bool WantsPrimary(this HealthCheckKind kind) => kind is HealthCheckKind.RedisPrimary or HealthCheckKind.PostgresPrimary or HealthCheckKind.MysqlPrimary;

    /// <summary>A check for read replicas (the primary is the fallback when none is fit).</summary>
    public static bool WantsReplica(this HealthCheckKind kind) => kind.IsRoleCheck() && !kind.WantsPrimary();
}
