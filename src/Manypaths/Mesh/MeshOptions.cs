namespace Manypaths.Mesh;

/// <summary>The peer channel's settings (top-level 'mesh:' in the config).</summary>
public sealed record MeshOptions
{
    /// <summary>How often every node pings every peer over UDP (RTT, loss, and its direct views).</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A peer not heard from for this long is down.</summary>
    public TimeSpan DeadAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many recent pings the loss figure is computed over.</summary>
    public int Window { get; init; } = 50;

    /// <summary>Relay requests older or newer than this, or with a nonce seen within it, are refused.</summary>
    public TimeSpan ReplayWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many relay hops a request may take (1: origin -> peer -> upstream).</summary>
    public int HopLimit { get; init; } = 1;
}
