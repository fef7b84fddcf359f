namespace Manypaths.Health;

/// <summary>What one real request attempt told us about an upstream.</summary>
public enum RequestOutcome
{
    Success,

    /// <summary>Unreachable, connect timeout: the upstream is hard down from here.</summary>
    ConnectFailed,

    /// <summary>
    /// The upstream's own host refused the connect (nothing listens there): hard down like
    /// <see cref="ConnectFailed"/>, and an answer from the upstream's side, so the upstream itself, not the path, is
    /// likely down.
    /// </summary>
    Refused,
    Timeout,

    /// <summary>Reset or closed by the other side after the request was sent (also an answer, like <see cref="Refused"/>).</summary>
    Broken,

    /// <summary>A status listed in passive.on_status.</summary>
    BadStatus,

    /// <summary>
    /// Another path answered first while this attempt was still waiting past its path's usual time (its hedge
    /// delay), as a stalled or lossy path makes it wait: a passive failure of this path, like a timeout, so a path
    /// that stalls is ejected after 'passive.failures' such requests in a row.
    /// </summary>
    Outpaced,

    /// <summary>
    /// Nothing came back on this path for a while (at least 100 ms, and half its usual time) while several requests
    /// waited on it past its usual time: the path went dark under them. Ejected at once, like a failed connect, so
    /// the waiting requests are rescued before any hedge could have won.
    /// </summary>
    Silent,

    /// <summary>
    /// The upstream closed several connections within a moment while requests on them waited for their answers
    /// (<see cref="Service.CloseBurst"/>): it went away (killed, crashed, restarted without draining). Ejected at once,
    /// and an answer from the upstream's side like <see cref="Refused"/>, so relayed paths to it are not tried first.
    /// </summary>
    Gone,
}
