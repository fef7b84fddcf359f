namespace Manypaths.Config;

/// <summary>One address serving several services, split by host and path prefix.</summary>
public sealed record ListenerOptions
{
    public required string Name { get; init; }
    public required ListenAddresses Listen { get; init; }
    public required IReadOnlyList<ListenerRoute> Routes { get; init; }
}

public sealed record ListenerRoute(string? Host, string? PathPrefix, string Service);
