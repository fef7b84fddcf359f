namespace Manypaths.Config;

public sealed record SorryOptions
{
    /// <summary>Absolute path of an HTML file shown to browsers; a built-in page otherwise.</summary>
    public string? File { get; init; }
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>When set, answer with a 302 to this address instead of a 503 page.</summary>
    public Uri? Redirect { get; init; }
}
