using System.Globalization;
using Manypaths.Config;

namespace Manypaths.Cli;

/// <summary>Times given on the command line or admin API: ISO-8601, or a duration from now such as 30m.</summary>
internal static class TimeArgument
{
    public static bool TryParse(string text, TimeProvider time, out DateTimeOffset value)
    {
        if (ValueParsers.TryParseDuration(text, out var duration))
        {
            value = time.GetUtcNow() + duration;
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }
}
