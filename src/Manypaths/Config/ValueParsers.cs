using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Manypaths.Config;

/// <summary>Durations (500ms, 2s, 1m, 1h), sizes (64KiB) , status ranges and listen addresses.</summary>
internal static partial class ValueParsers
{
    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();

    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(366);

    public const long MaxSize = 1L << 40;

    public static bool TryParseDuration(string? text, out TimeSpan value) => TryParseDuration(text, out value, out _);

    /// <param name="tooLarge">True when the text is a duration, only longer than <see cref="MaxDuration"/>.</param>
    public static bool TryParseDuration(string? text, out TimeSpan value, out bool tooLarge)
    {
        value = default;
        tooLarge = false;
        if (text is null)
        {
            return false;
        }

        if (text.Trim() == "0")
        {
            value = TimeSpan.Zero;
            return true;
        }

        var m = DurationPattern().Match(text);
        if (!m.Success)
        {
            return false;
        }

        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var ms = n * m.Groups[2].Value switch
        {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => 86_400_000, // d
        };
        if (ms > MaxDuration.TotalMilliseconds)
        {
            tooLarge = true; // longer than a year is a typo, and would overflow timers
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    public static string FormatDuration(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms" :
        t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.###}s" :
        t.TotalMinutes < 120 ? $"{t.TotalMinutes:0.###}m" : $"{t.TotalHours:0.###}h";

    public static bool TryParseSize(string? text, out long value) => TryParseSize(text, out value, out _);

    /// <param name="tooLarge">True when the text is a size, only larger than <see cref="MaxSize"/>.</param>
    public static bool TryParseSize(string? text, out long value, out bool tooLarge)
    {
        value = 0;
        tooLarge = false;
        var m = SizePattern().Match(text ?? "");
        if (!m.Success)
        {
            return false;
        }

        if (!long.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out var n))
        {
            tooLarge = true; // more digits than a long holds
            return false;
        }

        var multiplier = m.Groups[2].Value.ToUpperInvariant() switch
        {
            "KB" => 1000L,
            "KIB" => 1024L,
            "MB" => 1000L * 1000,
            "MIB" => 1024L * 1024,
            "GB" => 1000L * 1000 * 1000,
            "GIB" => 1024L * 1024 * 1024,
            _ => 1L,
        };
        if (n > MaxSize / multiplier)
        {
            tooLarge = true;
            return false;
        }

        value = n * multiplier;
        return true;
    }

    public static bool TryParseStatusRange(string? text, out StatusRange range)
    {
        range = default;
        if (text is null)
        {
            return false;
        }

        var parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
        if (!int.TryParse(parts[0], CultureInfo.InvariantCulture, out var from))
        {
            return false;
        }

        var to = from;
        if (parts.Length == 2 && !int.TryParse(parts[1], CultureInfo.InvariantCulture, out to))
        {
            return false;
        }

        if (from < 100 || to > 599 || to < from)
        {
            return false;
        }

        range = new StatusRange(from, to);
        return true;
    }

    /// <summary>Parses "127.0.0.1:8080", "[::1]:8080", "localhost:8080" or "*:8080" (all interfaces).</summary>
    /// <summary>A share from 0 to 1, written as a percentage ("5%") or a fraction ("0.05").</summary>
    public static bool TryParseShare(string? text, out double share)
    {
        var t = text?.Trim() ?? "";
        var percent = t.EndsWith('%');
        share = 0;
        if (!double.TryParse(percent ? t[..^1] : t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
        {
            return false;
        }

        share = percent ? v / 100 : v;
        return share is >= 0 and <= 1;
    }

    public static bool TryParseEndpoint(string? text, out IPEndPoint endpoint)
    {
        endpoint = new IPEndPoint(IPAddress.Loopback, 0);
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = text[..colon].Trim('[', ']');
        IPAddress? address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "0.0.0.0" => IPAddress.Any,
            _ => IPAddress.TryParse(host, out var a) ? a : null,
        };
        if (address is null)
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
