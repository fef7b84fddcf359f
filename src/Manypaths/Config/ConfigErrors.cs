using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Collects every problem instead of stopping at the first (as YARP's validators do), and every warning.</summary>
internal sealed class ConfigErrors(string file)
{
    private readonly List<ConfigError> _errors = [];
    private readonly List<ConfigError> _warnings = [];
    private readonly HashSet<ConfigError> _seen = [];

    public string File { get; } = file;

    public IReadOnlyList<ConfigError> All => _errors;

    /// <summary>What is allowed but probably not what the operator expects (the file still loads).</summary>
    public IReadOnlyList<ConfigError> Warnings => _warnings;

    public bool Any => _errors.Count > 0;

    public void Add(YamlNode? at, string message) => Add(at?.Start ?? Mark.Empty, message);

    public void Add(Mark mark, string message) => Add((int)Math.Min(mark.Line, int.MaxValue), (int)Math.Min(mark.Column, int.MaxValue), message);

    /// <summary>Adds a problem, once: a node read twice (a mapping looked up by two checks) reports it once.</summary>
    public void Add(int line, int column, string message)
    {
        var error = At(line, column, message);
        if (_seen.Add(error))
        {
            _errors.Add(error);
        }
    }

    public void Warn(YamlNode? at, string message)
    {
        var mark = at?.Start ?? Mark.Empty;
        _warnings.Add(At((int)Math.Min(mark.Line, int.MaxValue), (int)Math.Min(mark.Column, int.MaxValue), message));
    }

    private ConfigError At(int line, int column, string message) => new(File, Math.Max(1, line), Math.Max(1, column), message);
}
