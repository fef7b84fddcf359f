namespace Manypaths.Health.Roles;

/// <summary>What a database server says it is.</summary>
internal enum ServerRole
{
    Unknown,

    /// <summary>Takes writes (Redis master, PostgreSQL not in recovery, MySQL with read_only off).</summary>
    Primary,

    /// <summary>Follows a primary (Redis replica, PostgreSQL standby, MySQL replica or read_only).</summary>
    Replica,
}
