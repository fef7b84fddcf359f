namespace Manypaths.Config;

/// <summary>What a mode: tcp service adds to a service: connection limits, demotion handling, sentinels.</summary>
public sealed record TcpOptions
{
    /// <summary>Connections through this service at once, on this node; more are closed at accept and counted.</summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>Connections from one client address at once.</summary>
    public int MaxPerClient { get; init; } = 1_000;

    /// <summary>
    /// What happens to open connections to an upstream that lost its role (or was judged down): closed at once
    /// (null, the default), or allowed this long to finish (read services only).
    /// </summary>
    public TimeSpan? DemotionGrace { get; init; }

    /// <summary>Redis sentinels whose majority breaks a tie when two upstreams say they are the primary.</summary>
    public SentinelOptions? Sentinels { get; init; }
}

/// <param name="Master">The master name the sentinels monitor.</param>
/// <param name="Addresses">host:port of each sentinel.</param>
/// <param name="PasswordFile">The sentinels' password, read from a file.</param>
public sealed record SentinelOptions(string Master, IReadOnlyList<System.Net.DnsEndPoint> Addresses, string? PasswordFile);
