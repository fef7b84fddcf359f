namespace Manypaths.Config;

/// <summary>When a service goes through a peer (service 'relay:' as a mapping; 'relay: true' takes these defaults).</summary>
public sealed record RelayPolicy
{
    /// <summary>A relayed path to a better tier beats a direct path to a worse one (a relayed primary beats a direct backup).</summary>
    public bool PreferOverBackup { get; init; } = true;

    /// <summary>Use a relay while the direct path works but loses this much more than the relayed one (0.05 = 5 points).</summary>
    public double LossMargin { get; init; } = 0.05;

    /// <summary>...or is this much slower than the relayed one.</summary>
    public TimeSpan LatencyMargin { get; init; } = TimeSpan.FromMilliseconds(100);
}
