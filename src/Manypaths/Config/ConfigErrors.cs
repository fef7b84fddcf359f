using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Collects every problem instead of stopping at the first (as YARP's validators do).</summary>
internal sealed class ConfigErrors(string file)
{
    private readonly List<ConfigError> _errors = [];

    public string File { get; } = file;

    public IReadOnlyList<ConfigError> All => _errors;

    public bool Any => _errors.Count > 0;

    public void Add(YamlNode? at, string message) => Add(at?.Start ?? Mark.Empty, message);

    public void Add(Mark mark, string message)
    {
        var line = mark.Line <= 0 ? 1 : (int)mark.Line;
        var column = mark.Column <= 0 ? 1 : (int)mark.Column;
        _errors.Add(new ConfigError(File, line, column, message));
    }
}
