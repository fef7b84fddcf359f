namespace Manypaths.Health;

public enum HealthState
{
    /// <summary>Not probed yet: usable, decided by the first probe.</summary>
    Unknown,
    Up,

    /// <summary>Real traffic failed at least once; still usable, ranked after Up upstreams.</summary>
    Suspect,
    Down,
}
