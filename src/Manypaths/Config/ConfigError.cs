namespace Manypaths.Config;

/// <summary>One problem found in a config file, with the place it was found.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    /// <summary>How many problems are shown (by check, run and a rejected reload) before "and N more".</summary>
    public const int ShownAtMost = 50;

    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";

    /// <summary>The first <see cref="ShownAtMost"/> problems, one line each, then "... and N more problem(s)."</summary>
    /// <param name="kind">"warning" puts "warning: " between the position and the message.</param>
    public static IEnumerable<string> Lines(IReadOnlyList<ConfigError> errors, string? kind = null)
    {
        foreach (var e in errors.Take(ShownAtMost))
        {
            yield return kind is null ? e.ToString() : $"{e.File}:{e.Line}:{e.Column}: {kind}: {e.Message}";
        }

        if (errors.Count > ShownAtMost)
        {
            yield return $"... and {errors.Count - ShownAtMost:N0} more {(kind is null ? "problem" : kind)}(s) not shown.";
        }
    }
}
