namespace Manypaths.Config;

public enum ServiceMode
{
    Http,
    Tcp,
}

public sealed record ServiceOptions
{
    public required string Name { get; init; }
    public ServiceMode Mode { get; init; } = ServiceMode.Http;
    public ListenAddresses? Listen { get; init; }
    public required IReadOnlyList<UpstreamOptions> Upstreams { get; init; }
    public HealthCheckOptions Health { get; init; } = new();
    public PassiveHealthOptions Passive { get; init; } = new();
    public RetryOptions Retry { get; init; } = new();
    public TimeoutOptions Timeouts { get; init; } = new();

    /// <summary>Request bodies with a known length up to this size are buffered so a retry can replay them.</summary>
    public long MaxReplayBody { get; init; } = 64 * 1024;
    public SorryOptions Sorry { get; init; } = new();
    public ForwardedHeaderOptions Forwarded { get; init; } = new();

    /// <summary>HTTP version spoken to upstreams: 1.1, or 2 (h2c on http://, ALPN on https://).</summary>
    public Version HttpVersion { get; init; } = System.Net.HttpVersion.Version11;

    /// <summary>May requests go through a peer whose path to an upstream is healthy.</summary>
    public bool Relay { get; init; }

    /// <summary>Keep the connection pools of standby paths (relayed, backup) warm, so a failover pays no connects (Proxy/StandbyWarmer).</summary>
    public bool WarmStandby { get; init; } = true;
    public RelayPolicy RelayPolicy { get; init; } = new();
    /// <summary>mode: tcp only: limits, demotion handling, sentinels.</summary>
    public TcpOptions Tcp { get; init; } = new();

    /// <summary>On by default (adaptive); null with 'hedge: off'.</summary>
    public HedgeOptions? Hedge { get; init; } = new();
}
