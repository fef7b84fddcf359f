using System.Globalization;

namespace Manypaths.Tests.Support;

/// <summary>Reads figures out of a node's /metrics text.</summary>
internal static class PrometheusText
{
    /// <summary>The sum of every series of <paramref name="name"/> (whose labels contain <paramref name="label"/>, if given).</summary>
    public static long Sum(string metrics, string name, string? label = null) => metrics.Split('\n')
        .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length > name.Length && l[name.Length] is '{' or ' ')
            && (label is null || l.Contains(label, StringComparison.Ordinal)))
        .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
