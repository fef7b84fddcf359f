namespace Manypaths.Config;

/// <summary>
/// Hedged requests, on by default ('hedge: off' turns them off): an idempotent request with no answer after the
/// path's usual time (its p95) gets a second attempt on another path, within the hedge budget.
/// </summary>
public sealed record HedgeOptions
{
    /// <summary>Null means adaptive ("auto"): the path's own p95 time to first byte.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Attempts of one request under way at once (the first included).</summary>
    public int MaxAttempts { get; init; } = 2;

    /// <summary>Methods that may be hedged. PUT and DELETE are idempotent too, but only hedged when listed.</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["GET", "HEAD", "OPTIONS"];

    /// <summary>Path prefixes never hedged: long polls, and anything slow by design.</summary>
    public IReadOnlyList<string> SkipPaths { get; init; } = [];
}
