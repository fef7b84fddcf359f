using Manypaths.Config;

namespace Manypaths.Tests.Support;

/// <summary>Loading config text in tests: it must load, or be refused with a given error at a given place.</summary>
internal static class ConfigAssert
{
    public static ManypathsConfig LoadValid(string yaml, string path)
    {
        var result = ConfigLoader.Load(yaml, path);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        return result.Config!;
    }

    /// <summary>Refused, and an error with this text sits at this line and column of this file.</summary>
    public static void Refused(string yaml, string path, int line, int column, string message, string name = "")
    {
        var result = ConfigLoader.Load(yaml, path);
        Assert.False(result.Ok, name);
        Assert.Null(result.Config);
        var match = result.Errors.FirstOrDefault(e => e.Message.Contains(message, StringComparison.Ordinal));
        Assert.True(match is not null, $"{name}: expected an error containing \"{message}\", got:\n{string.Join("\n", result.Errors)}");
        Assert.Equal(path, match.File);
        Assert.Equal((line, column), (match.Line, match.Column));
    }
}
