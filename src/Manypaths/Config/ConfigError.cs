namespace Manypaths.Config;

/// <summary>One problem found in a config file, with the place it was found.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}
