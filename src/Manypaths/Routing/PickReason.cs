namespace Manypaths.Routing;

public enum PickReason
{
    None,

    /// <summary>A healthy upstream of the best tier and region.</summary>
    Healthy,

    /// <summary>Nothing is healthy: the least-bad upstream, tried once because health data can be wrong.</summary>
    LeastBad,
}

public readonly record struct Pick(int Index, PickReason Reason)
{
    public static Pick Nothing => new(-1, PickReason.None);

    public bool Found => Index >= 0;
}
