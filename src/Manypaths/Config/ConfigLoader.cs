using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Reads manypaths.yaml into typed options, collecting every problem with file, line and column.</summary>
public static class ConfigLoader
{
    public static ConfigLoadResult LoadFile(string path)
    {
        var full = Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ConfigLoadResult(null, [new ConfigError(full, 1, 1, $"Cannot read the config file: {e.Message}")]);
        }

        return Load(text, full);
    }

    public static ConfigLoadResult Load(string text, string path)
    {
        var errors = new ConfigErrors(path);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            errors.Add(e.Start, $"This is not valid YAML: {Trim(message)}");
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
        return errors.Any ? new ConfigLoadResult(null, errors.All) : new ConfigLoadResult(config, []);
    }

    private static string Trim(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 40) - (Line: ...): "; the position is already ours.
        var i = message.IndexOf("): ", StringComparison.Ordinal);
        return i >= 0 && message.StartsWith('(') ? message[(i + 3)..] : message;
    }
}
