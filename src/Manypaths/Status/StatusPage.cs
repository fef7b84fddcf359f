using System.Net;
using System.Text;

namespace Manypaths.Status;

/// <summary>GET / on the admin address: the node's view as a plain HTML page (the full cluster page comes later).</summary>
internal static class StatusPage
{
    public static string Render(StatusReport r, string title)
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">")
          .Append("<title>").Append(E(title)).Append("</title><style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}")
          .Append("table{border-collapse:collapse;margin-bottom:1.5rem}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}")
          .Append(".up,.healthy{color:#176f2c}.down{color:#b3261e}.suspect,.degraded,.unknown,.maintenance{color:#a15c00}.banner{padding:.6rem 1rem;border-radius:4px}.reload-error{background:#fde7e6;border:1px solid #b3261e}.draining{background:#fff4e0;border:1px solid #a15c00}pre{white-space:pre-wrap;margin:.4rem 0 0}</style></head><body>")
          .Append("<h1>").Append(E(title)).Append("</h1><p>Answered by node <b>").Append(E(r.Node)).Append("</b> at ")
          .Append(r.GeneratedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture)).Append("</p>");
        if (r.Draining)
        {
            sb.Append("<p class=\"banner draining\" id=\"draining\">This node is shutting down: it finishes the requests it has and takes no new ones.</p>");
        }

        if (r.Config.LastReloadError is { } reload)
        {
            sb.Append("<div class=\"banner reload-error\" id=\"reload-error\"><b>The last config reload failed")
              .Append(r.Config.LastReloadAt is { } at ? " at " + at.ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "")
              .Append(": this node still serves generation ").Append(r.Config.Generation).Append(".</b><pre>").Append(E(reload)).Append("</pre></div>");
        }

        foreach (var s in r.Services)
        {
            sb.Append("<h2>").Append(E(s.Name)).Append(" <span class=\"").Append(s.State).Append("\">").Append(s.State).Append("</span></h2>");
            if (s.Maintenance is { } m)
            {
                sb.Append("<p class=\"maintenance\">Maintenance").Append(m.Message is null ? "" : ": " + E(m.Message))
                  .Append(m.Until is { } until ? " (until " + until.ToString("u", System.Globalization.CultureInfo.InvariantCulture) + ")" : " (until switched off)").Append("</p>");
            }

            sb.Append("<table><tr><th>upstream</th><th>region</th><th>tier</th><th>state</th><th>latency</th><th>success</th><th>why</th></tr>");
            foreach (var u in s.Upstreams)
            {
                sb.Append("<tr><td>").Append(E(u.Name)).Append(u.Drained ? " (drained)" : "").Append("</td><td>").Append(E(u.Region ?? ""))
                  .Append("</td><td>").Append(u.Tier).Append("</td><td class=\"").Append(u.State).Append("\">").Append(u.State)
                  .Append("</td><td>").Append(u.LatencyMs is { } l ? $"{l:0.0} ms" : "")
                  .Append("</td><td>").Append($"{u.SuccessRate:P1}").Append("</td><td>").Append(E(u.Reason)).Append("</td></tr>");
            }

            sb.Append("</table>");
        }

        AppendLinkMatrix(sb, r.LinkMatrix);
        return sb.Append("</body></html>").ToString();
    }

    /// <summary>Rows are the measuring node, columns the peer it measured; a cell shows state, RTT and loss.</summary>
    private static void AppendLinkMatrix(StringBuilder sb, IReadOnlyList<LinkMatrixEntry> cells)
    {
        if (cells.Count == 0)
        {
            return;
        }

        var nodes = cells.Select(c => c.From).Concat(cells.Select(c => c.To)).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.Append("<h2>Peer links</h2><table id=\"link-matrix\"><tr><th>from \\ to</th>");
        foreach (var to in nodes)
        {
            sb.Append("<th>").Append(E(to)).Append("</th>");
        }

        sb.Append("</tr>");
        foreach (var from in nodes)
        {
            sb.Append("<tr><th>").Append(E(from)).Append("</th>");
            foreach (var to in nodes)
            {
                var c = cells.FirstOrDefault(x => x.From == from && x.To == to);
                if (c is null)
                {
                    sb.Append("<td></td>");
                    continue;
                }

                sb.Append("<td class=\"").Append(c.State).Append("\" title=\"").Append(c.Source).Append("\">")
                  .Append(E(LinkText.Cell(c.State, c.Source, c.RttMs, c.Loss)));
                sb.Append("</td>");
            }

            sb.Append("</tr>");
        }

        sb.Append("</table>");
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
