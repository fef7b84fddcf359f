namespace Manypaths.Config;

/// <summary>Either a config, or every problem that stops it from being one.</summary>
public sealed record ConfigLoadResult(ManypathsConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Ok => Config is not null && Errors.Count == 0;
}
