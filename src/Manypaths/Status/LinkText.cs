using System.Globalization;

namespace Manypaths.Status;

/// <summary>One cell of the peer link matrix as text, shared by the status page and <c>manypaths status</c>.</summary>
internal static class LinkText
{
    /// <summary>"up 0.4 ms, 2% loss"; a link that is not up shows only its state.</summary>
    public static string Cell(string? state, double? rttMs, double? loss) =>
        state != "up" ? state ?? "" : string.Create(CultureInfo.InvariantCulture,
            $"up{(rttMs is { } r ? $" {r:0.0} ms" : "")}{(loss is { } l ? $", {l * 100:0.#}% loss" : "")}");
}
