namespace Manypaths.Config;

public sealed record TimeoutOptions
{
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan FirstByte { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>From the request's arrival (a small body buffered) until the response starts, across every attempt.</summary>
    public TimeSpan Request { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Longest silence on a response body or an upgraded connection once the response has started. Unset, it is
    /// 60 s or <see cref="Request"/> when that is longer (the reader fills it in).
    /// </summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(60);
}
