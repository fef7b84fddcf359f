namespace Manypaths.Config;

/// <summary>Either a config, or every problem that stops it from being one; warnings either way.</summary>
public sealed record ConfigLoadResult(ManypathsConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Ok => Config is not null && Errors.Count == 0;

    /// <summary>Allowed, but probably not what the operator expects ("warning:" in check, logged by run).</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary>SHA-256 of the exact bytes this result was read from (empty for text given directly).</summary>
    public string ContentHash { get; init; } = "";
}
