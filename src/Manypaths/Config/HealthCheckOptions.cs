namespace Manypaths.Config;

public sealed record HealthCheckOptions
{
    /// <summary>Relative to the upstream URL: an upstream at http://h/app/ is probed at http://h/app/healthz.</summary>
    public string Path { get; init; } = "/healthz";
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Probe interval while a check is changing state (between the first opposite result and rise/fall).</summary>
    public TimeSpan FastInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public int Rise { get; init; } = 2;
    public int Fall { get; init; } = 2;
    public IReadOnlyList<StatusRange> ExpectStatus { get; init; } = [new StatusRange(200, 399)];
    public string? ExpectBody { get; init; }
    public string? Host { get; init; }

    /// <summary>
    /// Probe over a kept-alive connection (replaced every <see cref="ReusedConnectionLifetime"/>, so new connections
    /// are still proven that often); false opens a fresh connection for every probe, at about twice the CPU.
    /// </summary>
    public bool ReuseConnection { get; init; } = true;

    public static readonly TimeSpan ReusedConnectionLifetime = TimeSpan.FromSeconds(30);
}

/// <summary>An inclusive HTTP status range such as 200-399.</summary>
public readonly record struct StatusRange(int From, int To)
{
    public bool Contains(int status) => status >= From && status <= To;
}
