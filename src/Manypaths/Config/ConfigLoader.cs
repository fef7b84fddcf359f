using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>
/// Reads manypaths.yaml into typed options, collecting every problem with file, line and column. Nothing a file
/// holds makes it throw: a YAML syntax error, a reader bug in YamlDotNet, nesting deep enough to overflow the stack
/// (refused past 64 levels) or a value we did not foresee all become a positioned error
/// (tests/.../Config/ConfigFuzzTests mutate the examples thousands of times to hold it to that).
/// </summary>
public static class ConfigLoader
{
    public static ConfigLoadResult LoadFile(string path)
    {
        var full = Path.GetFullPath(path);
        var errors = new ConfigErrors(full);
        byte[] bytes;
        try
        {
            if (Directory.Exists(full))
            {
                errors.Add(Mark.Empty, "This is a directory, not a config file: name the YAML file itself (for example manypaths.yaml).");
                return new ConfigLoadResult(null, errors.All);
            }

            using var file = File.OpenRead(full);
            if (file.Length > ConfigText.MaxBytes)
            {
                return new ConfigLoadResult(null, [new ConfigError(full, 1, 1, $"The config file is too large: {file.Length:N0} bytes, where at most {ConfigText.MaxBytes:N0} are read.")]);
            }

            bytes = File.ReadAllBytes(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e is FileNotFoundException or DirectoryNotFoundException ? "it does not exist" : e.Message;
            return new ConfigLoadResult(null, [new ConfigError(full, 1, 1, $"Cannot read the config file: {why}")]);
        }

        var text = ConfigText.Decode(bytes, errors);
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));
        return (text is null ? new ConfigLoadResult(null, errors.All) : Load(text, full)) with { ContentHash = hash };
    }

    public static ConfigLoadResult Load(string text, string path)
    {
        var errors = new ConfigErrors(path);
        try
        {
            return LoadOrThrow(text, path, errors);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug of ours, not the operator's: say so plainly, with no stack trace, and keep the node running.
            errors.Add(Mark.Empty, $"{InternalErrorPrefix} ({e.GetType().Name}: {e.Message}). The file may still be wrong; please report this with the file.");
            return new ConfigLoadResult(null, errors.All);
        }
    }

    /// <summary>How an exception that escaped the reader is reported (the fuzz tests look for it).</summary>
    internal const string InternalErrorPrefix = "Manypaths could not read this config because of an internal error";

    private static ConfigLoadResult LoadOrThrow(string text, string path, ConfigErrors errors)
    {
        var stream = ParseYaml(text, errors);
        if (stream is null)
        {
            return new ConfigLoadResult(null, errors.All);
        }

        if (stream.Documents.Count == 0)
        {
            errors.Add(Mark.Empty, "The config file is empty.");
            return new ConfigLoadResult(null, errors.All);
        }

        var root = YamlMap.From(stream.Documents[0].RootNode, errors, "the config file");
        if (root is null)
        {
            if (!errors.Any)
            {
                errors.Add(Mark.Empty, "The config file is empty.");
            }

            return new ConfigLoadResult(null, errors.All);
        }

        var config = new ConfigReader(errors, Path.GetDirectoryName(path) ?? ".").Read(root, path);
        return errors.Any
            ? new ConfigLoadResult(null, errors.All) { Warnings = errors.Warnings }
            : new ConfigLoadResult(config, []) { Warnings = errors.Warnings };
    }

    /// <summary>The YAML tree, or null with one positioned error for the first syntax problem.</summary>
    private static YamlStream? ParseYaml(string text, ConfigErrors errors)
    {
        var scanner = new Scanner(new StringReader(text), skipComments: true);
        var stream = new YamlStream();
        try
        {
            stream.Load(new DepthLimitedParser(new Parser(scanner)));
            return stream;
        }
        catch (TooDeepException e)
        {
            errors.Add(e.Start, Trim(e.Message));
        }
        catch (YamlException e)
        {
            var message = Trim(e.InnerException is YamlException inner ? inner.Message : e.Message);
            if (message.Contains(" tab", StringComparison.OrdinalIgnoreCase) && FirstIndentingTab(text, (int)e.Start.Line) is { } tab)
            {
                errors.Add(tab.Line, tab.Column, "This is not valid YAML: a tab is used for indentation here; YAML indents with spaces only.");
            }
            else
            {
                errors.Add(e.Start, $"This is not valid YAML: {message}");
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet's scanner throws these (without a position) on some malformed flow collections, such as a
            // '[' or '{' left open at the end of a line. Where it stopped is the place to look.
            errors.Add(scanner.CurrentPosition, "This is not valid YAML: a list '[' or mapping '{' opened before this point is not closed (is a ']' or '}' missing?), or a line inside it is indented less than where it started.");
        }

        return null;
    }

    /// <summary>The first tab in the leading whitespace of a line, from line <paramref name="fromLine"/> on.</summary>
    private static (int Line, int Column)? FirstIndentingTab(string text, int fromLine)
    {
        var line = 1;
        var column = 1;
        var leading = true;
        foreach (var c in text)
        {
            if (c == '\n')
            {
                line++;
                column = 1;
                leading = true;
                continue;
            }

            if (line >= fromLine && leading && c == '\t')
            {
                return (line, column);
            }

            leading &= c == ' ' || c == '\t' || c == '-';
            column++;
        }

        return null;
    }

    private static string Trim(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 40) - (Line: ...): "; the position is already ours.
        var i = message.IndexOf("): ", StringComparison.Ordinal);
        return i >= 0 && message.StartsWith('(') ? message[(i + 3)..] : message;
    }
}
