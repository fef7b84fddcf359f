namespace Manypaths.Config;

public sealed record ForwardedHeaderOptions
{
    public bool XForwarded { get; init; } = true;
    public bool Via { get; init; } = true;

    /// <summary>Send the client's Host header to the upstream instead of the upstream's own.</summary>
    public bool PreserveHost { get; init; }
}
