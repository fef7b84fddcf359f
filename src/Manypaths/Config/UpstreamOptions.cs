namespace Manypaths.Config;

public sealed record UpstreamOptions
{
    public const int PrimaryTier = 0;
    public const int BackupTier = 1;

    public required string Name { get; init; }
    /// <summary>http(s)://... for mode: http; tcp://host:port for mode: tcp (from its 'address').</summary>
    public required Uri Url { get; init; }
    public string? Region { get; init; }
    public int Weight { get; init; } = 1;

    /// <summary>Lower wins: primary = 0, backup = 1, or any integer.</summary>
    public int Tier { get; init; } = PrimaryTier;

    /// <summary>The address DNS answers for this upstream (overrides its host, e.g. a public IP in front of a private one).</summary>
    public System.Net.IPAddress? DnsAddress { get; init; }
}
