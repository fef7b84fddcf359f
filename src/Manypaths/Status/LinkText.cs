using System.Globalization;

namespace Manypaths.Status;

/// <summary>One cell of the peer link matrix as text, shared by the status page and <c>manypaths status</c>.</summary>
internal static class LinkText
{
    /// <summary>"up 0.4 ms, 2% loss"; a link that is not up shows only its state, a stale report says so.</summary>
    public static string Cell(string? state, string? source, double? rttMs, double? loss)
    {
        if (source == "stale")
        {
            return "stale";
        }

        if (state != "up")
        {
            return state ?? "";
        }

        var rtt = rttMs is { } r ? " " + r.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "";
        var lost = loss is { } l ? ", " + (l * 100).ToString("0.#", CultureInfo.InvariantCulture) + "% loss" : "";
        return "up" + rtt + lost;
    }
}
