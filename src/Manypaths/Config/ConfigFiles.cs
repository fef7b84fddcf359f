namespace Manypaths.Config;

/// <summary>Files a config names (secrets, tokens, passwords): resolved against the config's folder, and must exist.</summary>
internal static class ConfigFiles
{
    /// <summary>The full path of the file <paramref name="key"/> names, or null (with an error) when empty or missing.</summary>
    /// <param name="what">What the file holds, for the error ("peer secret", "password").</param>
    public static string? Existing(YamlMap map, string key, string what, string baseDirectory)
    {
        var s = map.Scalar(key);
        if (s is null)
        {
            return null;
        }

        if (s.Value is not { Length: > 0 } value || string.IsNullOrWhiteSpace(value))
        {
            map.Errors.Add(s, $"'{key}' in {map.Where} is empty: name the {what} file or leave the key out.");
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(baseDirectory, value));
        if (!File.Exists(full))
        {
            map.Errors.Add(s, $"The {what} file '{value}' does not exist (looked for {full}).");
            return null;
        }

        try
        {
            using var _ = File.OpenRead(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            map.Errors.Add(s, $"The {what} file '{value}' cannot be read: {e.Message}");
            return null;
        }

        return full;
    }
}
