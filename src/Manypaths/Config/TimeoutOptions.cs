namespace Manypaths.Config;

public sealed record TimeoutOptions
{
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan FirstByte { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan Request { get; init; } = TimeSpan.FromSeconds(60);
}
