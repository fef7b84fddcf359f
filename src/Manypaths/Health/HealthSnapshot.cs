namespace Manypaths.Health;

/// <summary>An immutable view of one upstream's health, for selection and status.</summary>
/// <param name="Quiet">Nothing came back on the path lately while requests waited (<see cref="UpstreamHealth.MarkQuiet"/>):
/// new requests prefer another path of the same rank. Not a state: the path stays usable.</param>
/// <param name="Warming">A standby warm-up holds the path's pooled connections for a round trip
/// (<see cref="UpstreamHealth.BeginWarming"/>): new requests prefer another path of the same rank meanwhile.</param>
public readonly record struct HealthSnapshot(
    HealthState State,
    double LatencyMs,
    double SuccessRate,
    int ConsecutiveFailures,
    DateTimeOffset? LastTransition,
    string Reason,
    DateTimeOffset? EjectedUntil,
    bool UpstreamAnswered = false,
    bool Quiet = false,
    bool Warming = false)
{
    /// <summary>
    /// Down because the upstream's side answered (a refused connect, a reset or closed connection), not because the
    /// path went silent, and recently enough that peers may not have seen it yet: the upstream itself is likely down,
    /// so the same upstream through a peer is not worth trying before another upstream.
    /// </summary>
    public bool DownByAnswer => State == HealthState.Down && UpstreamAnswered;

    public bool Usable => State is HealthState.Up or HealthState.Unknown or HealthState.Suspect;
}
