namespace Manypaths.Health;

/// <summary>An immutable view of one upstream's health, for selection and status.</summary>
public readonly record struct HealthSnapshot(
    HealthState State,
    double LatencyMs,
    double SuccessRate,
    int ConsecutiveFailures,
    DateTimeOffset? LastTransition,
    string Reason,
    DateTimeOffset? EjectedUntil)
{
    public bool Usable => State is HealthState.Up or HealthState.Unknown or HealthState.Suspect;
}
