namespace Manypaths.Health.Roles;

/// <summary>
/// What one role check of one upstream found.
/// </summary>
/// <param name="History">Which replication history the position belongs to (Redis master_replid, PostgreSQL system
/// identifier): positions of different histories are never compared.</param>
/// <param name="Position">Replication position in bytes: a primary's current one, a replica's replayed one.</param>
/// <param name="Timeline">PostgreSQL's timeline of a primary (the higher one wins when two say primary).</param>
/// <param name="LinkUp">A replica's link to its primary works (Redis master_link_status, PostgreSQL streaming, MySQL
/// IO and SQL threads).</param>
/// <param name="Follows">A replica's primary, as host:port, when it says.</param>
/// <param name="Detail">Shown in status: "role: replica of 127.0.0.1:7001, 0 B behind".</param>
internal sealed record RoleReport(
    ServerRole Role,
    string? History = null,
    long? Position = null,
    long? Timeline = null,
    bool LinkUp = true,
    string? Follows = null,
    string? Detail = null);
