namespace Manypaths.Config;

/// <summary>Parsed and validated now; hedged attempts arrive with the relay mesh.</summary>
public sealed record HedgeOptions
{
    /// <summary>Null means adaptive ("auto").</summary>
    public TimeSpan? Delay { get; init; }
    public int MaxAttempts { get; init; } = 2;
}
