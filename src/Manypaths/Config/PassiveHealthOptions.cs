namespace Manypaths.Config;

public sealed record PassiveHealthOptions
{
    /// <summary>Consecutive failed real requests (timeouts, listed statuses) that eject an upstream.</summary>
    public int Failures { get; init; } = 3;

    /// <summary>Response statuses that count as a failure of the upstream.</summary>
    public IReadOnlyList<StatusRange> OnStatus { get; init; } = [new StatusRange(502, 504)];

    /// <summary>First ejection length; doubles on each ejection that follows soon after, up to <see cref="EjectMax"/>.</summary>
    public TimeSpan Eject { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan EjectMax { get; init; } = TimeSpan.FromMinutes(2);
}
