namespace Manypaths.Health;

/// <summary>What one real request attempt told us about an upstream.</summary>
public enum RequestOutcome
{
    Success,

    /// <summary>Refused, unreachable, connect timeout: the upstream is hard down from here.</summary>
    ConnectFailed,
    Timeout,

    /// <summary>Reset or broken after the request was sent.</summary>
    Broken,

    /// <summary>A status listed in passive.on_status.</summary>
    BadStatus,
}
