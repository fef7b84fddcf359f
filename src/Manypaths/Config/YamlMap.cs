using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>
/// Reads one YAML mapping into typed values, reporting every wrong type, unknown key and bad value with its
/// position. Nothing here throws for bad input: a bad value becomes an error and a null.
/// </summary>
internal sealed class YamlMap
{
    private readonly YamlMappingNode _node;
    private readonly ConfigErrors _errors;

    private YamlMap(YamlMappingNode node, ConfigErrors errors, string where)
    {
        _node = node;
        _errors = errors;
        Where = where;
    }

    public string Where { get; }

    public YamlNode Node => _node;

    public ConfigErrors Errors => _errors;

    /// <summary>Like <see cref="From"/> for a list item, where an empty item is a mistake, not "nothing".</summary>
    public static YamlMap? FromItem(YamlNode node, ConfigErrors errors, string where)
    {
        if (IsNull(node))
        {
            errors.Add(node, $"{Capitalize(where)} is empty: remove the '-' or fill it in.");
            return null;
        }

        return From(node, errors, where);
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    public static YamlMap? From(YamlNode? node, ConfigErrors errors, string where)
    {
        if (node is null || IsNull(node))
        {
            return null;
        }

        if (node is YamlMappingNode map)
        {
            foreach (var (key, _) in map.Children)
            {
                if (key is not YamlScalarNode)
                {
                    errors.Add(key, $"A key in {where} is {Describe(key)}; keys are plain names such as 'listen'.");
                }
            }

            return new YamlMap(map, errors, where);
        }

        errors.Add(node, $"{where} must be a mapping of keys to values, not {Describe(node)}.");
        return null;
    }

    /// <summary>Reports every key that is not one of <paramref name="known"/>, suggesting the closest one.</summary>
    public void AllowOnly(params string[] known)
    {
        foreach (var (keyNode, _) in _node.Children)
        {
            if (keyNode is not YamlScalarNode { Value: var value })
            {
                continue; // reported when the mapping was read
            }

            var key = value ?? "";
            if (Array.IndexOf(known, key) >= 0)
            {
                continue;
            }

            var hint = Spelling.Closest(key, known);
            var suffix = hint is null ? $" Known keys: {string.Join(", ", known)}." : $" Did you mean '{hint}'?";
            _errors.Add(keyNode, $"Unknown key '{key}' in {Where}.{suffix}");
        }
    }

    public IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries()
    {
        foreach (var (keyNode, value) in _node.Children)
        {
            if (keyNode is YamlScalarNode scalar)
            {
                yield return (scalar.Value ?? "", keyNode, value);
            }
        }
    }

    public YamlNode? Raw(string key)
    {
        foreach (var (keyNode, value) in _node.Children)
        {
            if (keyNode is YamlScalarNode s && s.Value == key)
            {
                return IsNull(value) ? null : value;
            }
        }

        return null;
    }

    public YamlScalarNode? Scalar(string key, bool required = false)
    {
        var raw = Raw(key);
        if (raw is null)
        {
            if (required)
            {
                _errors.Add(_node, $"{Where} is missing the required key '{key}'.");
            }

            return null;
        }

        if (raw is YamlScalarNode scalar)
        {
            return scalar;
        }

        _errors.Add(raw, $"'{key}' in {Where} must be a single value, not {Describe(raw)}.");
        return null;
    }

    public string? String(string key, bool required = false)
    {
        var s = Scalar(key, required);
        if (s is not null && string.IsNullOrWhiteSpace(s.Value))
        {
            _errors.Add(s, $"'{key}' in {Where} is empty: give it a value or leave the key out.");
            return null;
        }

        return s?.Value;
    }

    public int? Int(string key, int min, int max, bool required = false)
    {
        var s = Scalar(key, required);
        if (s is null)
        {
            return null;
        }

        if (!int.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            _errors.Add(s, IsWholeNumber(s.Value)
                ? $"'{key}' in {Where} is {(s.Value!.TrimStart().StartsWith('-') ? "out of range" : "too large")}: {s.Value} (it must be between {min} and {max})."
                : $"'{key}' in {Where} must be a whole number, not '{s.Value}'.");
            return null;
        }

        if (value < min || value > max)
        {
            _errors.Add(s, $"'{key}' in {Where} must be between {min} and {max}, not {value}.");
            return null;
        }

        return value;
    }

    /// <summary>Digits (with an optional sign) that did not fit: a number too large, not a typo.</summary>
    public static bool IsWholeNumber(string? text) =>
        text?.Trim() is { Length: > 0 } t && (t[0] is '+' or '-' ? t[1..] : t) is { Length: > 0 } digits && digits.All(char.IsAsciiDigit);

    public double? Double(string key, double min, double max)
    {
        var s = Scalar(key);
        if (s is null)
        {
            return null;
        }

        if (double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var big) && double.IsFinite(big) && big > max)
        {
            _errors.Add(s, $"'{key}' in {Where} is too large: {s.Value} (it must be between {min} and {max}).");
            return null;
        }

        if (!double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            _errors.Add(s, $"'{key}' in {Where} must be a number between {min} and {max}, not '{s.Value}'.");
            return null;
        }

        return value;
    }

    public bool? Bool(string key)
    {
        var s = Scalar(key);
        if (s is null)
        {
            return null;
        }

        switch (s.Value?.ToLowerInvariant())
        {
            case "true" or "yes" or "on":
                return true;
            case "false" or "no" or "off":
                return false;
            default:
                _errors.Add(s, $"'{key}' in {Where} must be true or false, not '{s.Value}'.");
                return null;
        }
    }

    public TimeSpan? Duration(string key, TimeSpan? min = null)
    {
        var s = Scalar(key);
        if (s is null)
        {
            return null;
        }

        if (!ValueParsers.TryParseDuration(s.Value, out var value, out var tooLarge))
        {
            _errors.Add(s, tooLarge ? $"'{key}' in {Where} is too large: {s.Value} (at most a year)." : $"'{key}' in {Where} is not a duration: '{s.Value}'. Write a number and a unit, such as 500ms, 2s, 1m, 1h or 90d (at most a year).");
            return null;
        }

        if (min is { } m && value < m)
        {
            _errors.Add(s, $"'{key}' in {Where} must be at least {ValueParsers.FormatDuration(m)}, not {s.Value}.");
            return null;
        }

        return value;
    }

    public long? Size(string key)
    {
        var s = Scalar(key);
        if (s is null)
        {
            return null;
        }

        if (!ValueParsers.TryParseSize(s.Value, out var value, out var tooLarge))
        {
            _errors.Add(s, tooLarge ? $"'{key}' in {Where} is too large: {s.Value} (at most 1TiB)." : $"'{key}' in {Where} is not a size: '{s.Value}'. Write bytes or a unit, such as 65536, 64KiB or 1MiB (at most 1TiB).");
            return null;
        }

        return value;
    }

    /// <param name="secret">The URL may carry a token (a webhook's): an error never repeats it.</param>
    public Uri? HttpUrl(string key, bool required = false, bool secret = false)
    {
        var s = Scalar(key, required);
        if (s is null)
        {
            return null;
        }

        if (!Uri.TryCreate(s.Value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(uri.Host))
        {
            _errors.Add(s, secret
                ? $"'{key}' in {Where} is not an http(s) URL such as http://127.0.0.1:9900/hook (the value is not shown: webhook URLs often carry a secret)."
                : $"'{key}' in {Where} is not an http:// or https:// URL: '{s.Value}'.");
            return null;
        }

        return uri;
    }

    public IReadOnlyList<StatusRange>? StatusRanges(string key)
    {
        var raw = Raw(key);
        if (raw is null)
        {
            return null;
        }

        var items = raw is YamlSequenceNode seq ? seq.Children : (IEnumerable<YamlNode>)[raw];
        var result = new List<StatusRange>();
        foreach (var item in items)
        {
            if (item is YamlScalarNode s && ValueParsers.TryParseStatusRange(s.Value, out var range))
            {
                result.Add(range);
            }
            else
            {
                _errors.Add(item, $"'{key}' in {Where} must list HTTP statuses or ranges such as 200 or 500-599, not '{(item as YamlScalarNode)?.Value ?? Describe(item)}'.");
            }
        }

        return result;
    }

    public YamlMap? Map(string key) => From(Raw(key), _errors, $"'{key}' in {Where}");

    public YamlSequenceNode? List(string key)
    {
        var raw = Raw(key);
        if (raw is null)
        {
            return null;
        }

        if (raw is YamlSequenceNode seq)
        {
            return seq;
        }

        _errors.Add(raw, $"'{key}' in {Where} must be a list, not {Describe(raw)}.");
        return null;
    }

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Value: null or "" or "~" or "null", Style: YamlDotNet.Core.ScalarStyle.Plain };

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"the value '{s.Value}'",
        _ => "this",
    };
}
