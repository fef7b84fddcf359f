namespace Manypaths.Config;

public sealed record TimeoutOptions
{
    /// <summary>
    /// The hard limit on one connect. A connect slower than its endpoint's usual is raced long before this (the race
    /// delay follows measured connect times), so it only needs to spare a slow but working connect: 5 s covers a
    /// lost SYN (retransmitted after 1 s, then 2 s) at 250 ms round trips.
    /// </summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan FirstByte { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>From the request's arrival (a small body buffered) until the response starts, across every attempt.</summary>
    public TimeSpan Request { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Longest silence on a response body or an upgraded connection once the response has started. Unset, it is
    /// 60 s or <see cref="Request"/> when that is longer (the reader fills it in).
    /// </summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(60);
}
