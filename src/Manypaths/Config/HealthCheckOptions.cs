namespace Manypaths.Config;

public sealed record HealthCheckOptions
{
    /// <summary>What the check asks: an HTTP GET, a TCP connect, or a database's role.</summary>
    public HealthCheckKind Check { get; init; } = HealthCheckKind.Http;

    /// <summary>Role checks: the user to log in as (Redis ACL user, PostgreSQL or MySQL user).</summary>
    public string? User { get; init; }

    /// <summary>Role checks: a file holding the password (never inline in the config).</summary>
    public string? PasswordFile { get; init; }

    /// <summary>PostgreSQL: the database to connect to (default postgres).</summary>
    public string? Database { get; init; }

    /// <summary>Replica checks: most bytes a replica may be behind its primary and still take reads.</summary>
    public long? MaxLagBytes { get; init; }

    /// <summary>Role checks ask every 250 ms, time out after 200 ms, and trust one answer (rise 1).</summary>
    public static readonly HealthCheckOptions RoleDefaults = new()
    {
        Interval = TimeSpan.FromMilliseconds(250),
        FastInterval = TimeSpan.FromMilliseconds(250),
        Timeout = TimeSpan.FromMilliseconds(200),
        Rise = 1,
        Fall = 2,
    };

    /// <summary>Relative to the upstream URL: an upstream at http://h/app/ is probed at http://h/app/healthz.</summary>
    public string Path { get; init; } = "/healthz";
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Probe interval while a check is changing state (between the first opposite result and rise/fall).</summary>
    public TimeSpan FastInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public int Rise { get; init; } = 2;
    public int Fall { get; init; } = 2;
    public IReadOnlyList<StatusRange> ExpectStatus { get; init; } = [new StatusRange(200, 399)];
    public string? ExpectBody { get; init; }
    public string? Host { get; init; }

    /// <summary>
    /// Probe over a kept-alive connection (replaced every <see cref="ReusedConnectionLifetime"/>, so new connections
    /// are still proven that often); false opens a fresh connection for every probe, at about twice the CPU.
    /// </summary>
    public bool ReuseConnection { get; init; } = true;

    public static readonly TimeSpan ReusedConnectionLifetime = TimeSpan.FromSeconds(30);
}

/// <summary>An inclusive HTTP status range such as 200-399.</summary>
public readonly record struct StatusRange(int From, int To)
{
    public bool Contains(int status) => status >= From && status <= To;
}
