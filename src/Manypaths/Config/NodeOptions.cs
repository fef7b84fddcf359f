namespace Manypaths.Config;

public sealed record NodeOptions
{
    public required string Name { get; init; }
    public Uri? Mesh { get; init; }
    public Uri? Admin { get; init; }
    public string? Region { get; init; }
}
