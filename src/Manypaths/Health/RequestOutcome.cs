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

    /// <summary>
    /// Another path answered first while this attempt was still waiting past its path's usual time (its hedge
    /// delay), as a stalled or lossy path makes it wait: a passive failure of this path, like a timeout, so a path
    /// that stalls is ejected after 'passive.failures' such requests in a row.
    /// </summary>
    Outpaced,
}
