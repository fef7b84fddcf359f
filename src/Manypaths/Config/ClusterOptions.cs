namespace Manypaths.Config;

public sealed record ClusterOptions
{
    public string Name { get; init; } = "manypaths";

    /// <summary>Absolute path of the peer secret (required with more than one node).</summary>
    public string? SecretFile { get; init; }

    /// <summary>Absolute path of the admin bearer token; without it every admin write is refused.</summary>
    public string? AdminTokenFile { get; init; }

    /// <summary>The token itself, read (and trimmed) when the config was loaded; null without a token file.</summary>
    public AdminToken? AdminToken { get; init; }

    /// <summary>How long a stopping node lets in-flight requests finish.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An upstream is up "by quorum" when at least this share of the reachable nodes sees it up (DNS, status).</summary>
    public double Quorum { get; init; } = 0.5;
}
