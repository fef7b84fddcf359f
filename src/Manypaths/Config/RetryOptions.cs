namespace Manypaths.Config;

public sealed record RetryOptions
{
    /// <summary>Extra attempts after the first one, each on another path.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>Statuses that make an idempotent request try another upstream.</summary>
    public IReadOnlyList<StatusRange> OnStatus { get; init; } = [new StatusRange(502, 504)];

    /// <summary>Retries may add at most this share of the recent request rate...</summary>
    public double BudgetRatio { get; init; } = 0.2;

    /// <summary>...plus this many per second, so a quiet service can still retry.</summary>
    public int BudgetMinPerSecond { get; init; } = 5;
}
