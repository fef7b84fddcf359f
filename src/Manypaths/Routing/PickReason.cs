namespace Manypaths.Routing;

public enum PickReason
{
    None,

    /// <summary>A healthy upstream of the best tier and region.</summary>
    Healthy,

    /// <summary>Nothing is healthy: the least-bad upstream, tried once because health data can be wrong.</summary>
    LeastBad,

    /// <summary>Every direct path of the best tier is down, but a peer reaches this upstream: go through it.</summary>
    Relayed,
}

public readonly record struct Pick(int Index, PickReason Reason)
{
    public static Pick Nothing => new(-1, PickReason.None);

    public bool Found => Index >= 0;
}
