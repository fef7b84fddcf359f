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
    /// A hedge to the same upstream through a peer answered first while this direct attempt was still waiting
    /// after a whole hedge delay, as a lost packet makes it wait for a retransmit. Loss inferred from delay: it counts against the success rate
    /// (so a relay can be clearly better), but never makes the upstream Suspect or ejects it.
    /// </summary>
    Outpaced,
}
