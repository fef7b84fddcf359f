using System.Globalization;
using System.Net;
using System.Text;
using Manypaths.History;

namespace Manypaths.Status;

/// <summary>
/// GET / on every node's admin address: server-rendered HTML that reads well without JavaScript (no CDN, no fonts,
/// light and dark by prefers-color-scheme, phone-width friendly), and a small script that fetches the live part
/// (<c>?fragment=1</c>) every second. Top: the overall verdict, active incidents and maintenance; per service its
/// state and since when, its paths, the last minute's path mix, uptime bars and latency sparklines; then the upstream
/// x node and node x node matrices, each node's freshness, and past incidents.
/// </summary>
internal static class StatusPage
{
    public static string Render(StatusReport r, string title, PageExtras x)
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">")
          .Append("<title>").Append(E(title)).Append("</title><style>").Append(Css).Append("</style></head><body><header><h1>").Append(E(title)).Append("</h1>")
          .Append("<p class=\"meta\">Answered by node <b id=\"answered-by\">").Append(E(r.Node)).Append("</b> · <span id=\"updated\" class=\"live\">live</span></p></header>")
          .Append("<main id=\"live\">");
        LivePart(sb, r, x);
        sb.Append("</main><footer>Every node of this cluster serves this page. JSON: <a href=\"/api/status\">/api/status</a> · <a href=\"/api/incidents\">/api/incidents</a>")
          .Append(r.Services.Count > 0 ? $" · <a href=\"/api/history?service={Uri.EscapeDataString(r.Services[0].Name)}\">/api/history</a>" : "")
          .Append("</footer><script>").Append(Script).Append("</script></body></html>");
        return sb.ToString();
    }

    /// <summary>The live part alone (what the script swaps in every second).</summary>
    public static string Fragment(StatusReport r, PageExtras x)
    {
        var sb = new StringBuilder();
        LivePart(sb, r, x);
        return sb.ToString();
    }

    private static void LivePart(StringBuilder sb, StatusReport r, PageExtras x)
    {
        var at = r.GeneratedAt;
        Banner(sb, r);
        if (r.Draining)
        {
            sb.Append("<p class=\"notice warn\" id=\"draining\">This node is shutting down: it finishes the requests it has and takes no new ones. Any other node serves this page too.</p>");
        }

        if (r.Config.LastReloadError is { } reload)
        {
            sb.Append("<div class=\"notice bad\" id=\"reload-error\"><b>The last config reload failed on ").Append(E(r.Node))
              .Append(r.Config.LastReloadAt is { } when ? " at " + Time(when) : "")
              .Append(": this node still serves generation ").Append(r.Config.Generation).Append(".</b><pre>").Append(E(reload)).Append("</pre></div>");
        }

        if (r.History is { Error: { } historyError })
        {
            sb.Append("<p class=\"notice warn\" id=\"history-error\">").Append(E(historyError)).Append("</p>");
        }

        foreach (var w in r.Alerts?.Webhooks.Where(w => w.Waiting > 0 && w.LastFailure is not null) ?? [])
        {
            sb.Append("<p class=\"notice warn webhook-failing\">Alerts to ").Append(E(w.Label)).Append(" are failing (").Append(E(w.LastFailure!))
              .Append(w.LastFailureAt is { } f ? ", last " + Ago(at, f) : "").Append("); ").Append(w.Waiting).Append(" waiting, retried with back-off.</p>");
        }

        Incidents(sb, x.Incidents.Where(i => i.End is null).ToList(), at, "Active incidents", "active-incidents");
        var maintenance = r.Services.Where(s => s.Maintenance is not null).ToList();
        if (maintenance.Count > 0)
        {
            sb.Append("<section id=\"maintenance\"><h2>Maintenance</h2><ul>");
            foreach (var s in maintenance)
            {
                var m = s.Maintenance!;
                sb.Append("<li><b>").Append(E(s.Name)).Append("</b>").Append(m.Message is null ? "" : ": " + E(m.Message))
                  .Append(" <span class=\"muted\">since ").Append(Time(m.Since)).Append(m.Until is { } u ? ", until " + Time(u) : ", until switched off").Append("</span></li>");
            }

            sb.Append("</ul></section>");
        }

        foreach (var s in r.Services)
        {
            Service(sb, r, s, x, at);
        }

        UpstreamMatrix(sb, r, x);
        AppendLinkMatrix(sb, r.LinkMatrix, at);
        Nodes(sb, r, at, x);
        Incidents(sb, x.Incidents.Where(i => i.End is not null).Take(10).ToList(), at, "Past incidents", "past-incidents");
    }

    private static void Banner(StringBuilder sb, StatusReport r)
    {
        var down = r.Services.Count(s => s.State == "down");
        var (cls, text) = down > 0 && down == r.Services.Count ? ("bad", "Major outage")
            : down > 0 ? ("bad", "Partial outage")
            : r.Services.Any(s => s.State == "degraded") ? ("warn", "Degraded")
            : r.Services.Any(s => s.State == "maintenance") ? ("info", "Maintenance")
            : ("good", "All systems operational");
        sb.Append("<section id=\"banner\" class=\"banner ").Append(cls).Append("\" data-verdict=\"").Append(text.ToLowerInvariant()).Append("\">").Append(text);
        if (down > 0)
        {
            sb.Append(": ").Append(E(string.Join(", ", r.Services.Where(s => s.State == "down").Select(s => s.Name)))).Append(" down");
        }

        sb.Append("</section>");
    }

    private static void Incidents(StringBuilder sb, List<Incident> list, DateTimeOffset at, string heading, string id)
    {
        if (list.Count == 0)
        {
            return;
        }

        sb.Append("<section id=\"").Append(id).Append("\"><h2>").Append(heading).Append("</h2><ul class=\"incidents\">");
        foreach (var i in list)
        {
            sb.Append("<li class=\"incident ").Append(i.End is null ? "open" : "closed").Append("\"><b>").Append(E(i.Title)).Append("</b> <span class=\"muted\">")
              .Append("since ").Append(Time(i.Start)).Append(i.End is { } end ? $", resolved {Time(end)} after {Duration(end - i.Start)}" : $" ({Duration(at - i.Start)})")
              .Append(" · seen by ").Append(E(string.Join(", ", i.Nodes))).Append("</span>");
            foreach (var u in i.Updates)
            {
                sb.Append("<div class=\"update\">").Append(Time(u.At)).Append(": ").Append(E(u.Text)).Append("</div>");
            }

            sb.Append("</li>");
        }

        sb.Append("</ul></section>");
    }

    private static void Service(StringBuilder sb, StatusReport r, ServiceStatus s, PageExtras x, DateTimeOffset at)
    {
        sb.Append("<article class=\"service\" id=\"service-").Append(E(s.Name)).Append("\" data-state=\"").Append(s.State).Append("\"><h2>").Append(E(s.Name))
          .Append(" <span class=\"pill ").Append(s.State).Append("\">").Append(s.State).Append("</span>");
        if (x.Since(s.Name) is { } since)
        {
            sb.Append(" <span class=\"muted since\">since ").Append(Time(since)).Append(" (").Append(Duration(at - since)).Append(")</span>");
        }

        sb.Append("</h2>");
        if (s.SplitBrain is { } split)
        {
            sb.Append("<p class=\"notice bad\">").Append(E(split)).Append("</p>");
        }

        if (x.LastMinute(s.Name) is { Requests: > 0 } m)
        {
            double Share(long n) => 100.0 * n / m.Requests;
            sb.Append("<p class=\"mix\">Last minute: ").Append(m.Requests.ToString("N0", CultureInfo.InvariantCulture)).Append(" requests, ")
              .Append(Share(m.Direct).ToString("0", CultureInfo.InvariantCulture)).Append("% direct, ")
              .Append(Share(m.Relayed).ToString("0", CultureInfo.InvariantCulture)).Append("% through peers, ")
              .Append(Share(m.Backup).ToString("0", CultureInfo.InvariantCulture)).Append("% backup tier; ")
              .Append(m.Failures.ToString("N0", CultureInfo.InvariantCulture)).Append(" failed.</p>");
        }
        else if (s.Mode == "tcp" && s.Connections is { } c)
        {
            sb.Append("<p class=\"mix\">").Append(c).Append(" client connection(s) now.</p>");
        }

        if (x.History(s.Name) is { } h)
        {
            Bars(sb, "Last 24 hours", "uptime-24h", h.Hourly, "HH:mm", at);
            Bars(sb, "Last 90 days", "uptime-90d", h.Daily, "MMM d", at);
            Sparkline(sb, h.Latency);
        }

        sb.Append("<div class=\"scroll\"><table class=\"paths\"><tr><th>upstream</th><th>path</th><th>state</th><th>latency</th><th>why</th></tr>");
        foreach (var p in s.Paths)
        {
            var upstream = s.Upstreams.FirstOrDefault(u => u.Name == p.Upstream);
            sb.Append("<tr><td>").Append(E(p.Upstream)).Append(upstream is { Tier: > 0 } ? $" <span class=\"muted\">tier {upstream.Tier}</span>" : "")
              .Append(upstream?.Role is { } role ? $" <span class=\"muted\">{E(role)}</span>" : "").Append("</td><td>")
              .Append(p.Via is null ? "direct" : "via " + E(p.Via)).Append("</td><td class=\"").Append(p.State).Append("\">").Append(p.State)
              .Append("</td><td>").Append(p.State is "up" or "suspect" && p.LatencyMs is { } l ? l.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "")
              .Append("</td><td>").Append(x.Public ? "" : E(p.Why)).Append("</td></tr>");
        }

        sb.Append("</table></div></article>");
    }

    private static void Bars(StringBuilder sb, string label, string cls, IReadOnlyList<UptimeBar> bars, string format, DateTimeOffset at)
    {
        var known = bars.Where(b => b.Up is not null).ToList();
        var total = known.Count == 0 ? null : (double?)known.Sum(b => b.Up!.Value) / known.Count;
        sb.Append("<div class=\"uptime ").Append(cls).Append("\"><div class=\"uptime-head\"><span>").Append(label).Append("</span><span>")
          .Append(total is { } t ? (t * 100).ToString("0.##", CultureInfo.InvariantCulture) + "% up" : "no data yet").Append("</span></div><div class=\"bars\">");
        foreach (var b in bars)
        {
            var level = b.Up is not { } up ? "none" : up >= 0.9995 ? "good" : up >= 0.99 ? "warn" : "bad";
            var text = $"{b.Start.ToString(format, CultureInfo.InvariantCulture)}: " + (b.Up is { } u
                ? $"{(u * 100).ToString("0.##", CultureInfo.InvariantCulture)}% up, {b.Requests:N0} requests, {b.Failures:N0} failed"
                : "no data");
            sb.Append("<span class=\"bar ").Append(level).Append("\" tabindex=\"0\" title=\"").Append(E(text)).Append("\" aria-label=\"").Append(E(text)).Append("\"></span>");
        }

        sb.Append("</div><div class=\"caption muted\" aria-live=\"polite\"></div></div>");
    }

    /// <summary>p50 and p99 of the last hour as two polylines, scaled to the highest p99.</summary>
    private static void Sparkline(StringBuilder sb, IReadOnlyList<(DateTimeOffset At, double? P50, double? P99)> points)
    {
        var p = points.Where(x => x.P99 is not null).ToList();
        if (p.Count < 2)
        {
            return;
        }

        var max = Math.Max(1, p.Max(x => x.P99!.Value));
        string Line(Func<(DateTimeOffset At, double? P50, double? P99), double> value) =>
            string.Join(" ", p.Select((x, i) => $"{(i * 300.0 / (p.Count - 1)).ToString("0.#", CultureInfo.InvariantCulture)},{(38 - (value(x) / max * 34)).ToString("0.#", CultureInfo.InvariantCulture)}"));
        var last = p[^1];
        sb.Append("<div class=\"spark\"><svg viewBox=\"0 0 300 40\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"latency, last hour\">")
          .Append("<polyline class=\"p99\" points=\"").Append(Line(x => x.P99!.Value)).Append("\"/><polyline class=\"p50\" points=\"").Append(Line(x => x.P50 ?? 0)).Append("\"/></svg>")
          .Append("<span class=\"muted\">latency, last hour: p50 ").Append((last.P50 ?? 0).ToString("0.0", CultureInfo.InvariantCulture))
          .Append(" ms, p99 ").Append(last.P99!.Value.ToString("0.0", CultureInfo.InvariantCulture)).Append(" ms (peak p99 ").Append(max.ToString("0.0", CultureInfo.InvariantCulture)).Append(" ms)</span></div>");
    }

    /// <summary>Each node's direct view of each upstream (this node's own, and what each heard peer reports), and the quorum's verdict.</summary>
    private static void UpstreamMatrix(StringBuilder sb, StatusReport r, PageExtras x)
    {
        var nodes = r.Peers.Select(p => p.Name).Append(r.Node).Order(StringComparer.Ordinal).ToList();
        sb.Append("<section><h2>Upstreams, as each node sees them</h2><div class=\"scroll\"><table id=\"upstream-matrix\"><tr><th>upstream</th>");
        foreach (var n in nodes)
        {
            sb.Append("<th>").Append(E(n)).Append("</th>");
        }

        sb.Append("<th>quorum</th></tr>");
        foreach (var s in r.Services)
        {
            foreach (var u in s.Upstreams)
            {
                var views = x.Views(s.Name, u.Name);
                sb.Append("<tr><th>").Append(E(s.Name)).Append('/').Append(E(u.Name)).Append("</th>");
                foreach (var n in nodes)
                {
                    var v = views.FirstOrDefault(v => v.Node == n);
                    if (v.Node is null)
                    {
                        // Not counted now (its link is down, or it has not probed yet): its last word, marked stale.
                        var last = x.LastKnownView(n, s.Name, u.Name);
                        sb.Append("<td class=\"unknown\">").Append(last is { } was ? $"stale: was {(was ? "up" : "down")}" : "not heard").Append("</td>");
                        continue;
                    }

                    var state = v.Healthy ? "up" : "down";
                    sb.Append("<td class=\"").Append(state).Append("\">").Append(state).Append("</td>");
                }

                var verdict = views.Count == 0 ? "unknown" : Dns.QuorumHealth.Healthy(views, x.Quorum) ? "up" : "down";
                sb.Append("<td class=\"").Append(verdict).Append("\"><b>").Append(verdict).Append("</b></td></tr>");
            }
        }

        sb.Append("</table></div></section>");
    }

    /// <summary>Rows are the measuring node, columns the peer it measured; a cell shows state, RTT and loss.</summary>
    private static void AppendLinkMatrix(StringBuilder sb, IReadOnlyList<LinkMatrixEntry> cells, DateTimeOffset at)
    {
        if (cells.Count == 0)
        {
            return;
        }

        var nodes = cells.Select(c => c.From).Concat(cells.Select(c => c.To)).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.Append("<section><h2>Peer links</h2><div class=\"scroll\"><table id=\"link-matrix\"><tr><th>from \\ to</th>");
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
                if (c.Source == "stale" && c.ReportedAt is { } reported)
                {
                    sb.Append(" <span class=\"muted\">(last report ").Append(Ago(at, reported)).Append(")</span>");
                }

                sb.Append("</td>");
            }

            sb.Append("</tr>");
        }

        sb.Append("</table></div></section>");
    }

    /// <summary>Which node answered, and how fresh what it knows of each other node is.</summary>
    private static void Nodes(StringBuilder sb, StatusReport r, DateTimeOffset at, PageExtras x)
    {
        sb.Append("<section><h2>Nodes</h2><ul id=\"nodes\"><li class=\"node up\"><b>").Append(E(r.Node)).Append("</b> answered this page")
          .Append(r.Region is { } region ? $" <span class=\"muted\">({E(region)})</span>" : "").Append(" · config generation ").Append(r.Config.Generation).Append("</li>");
        foreach (var p in r.Peers)
        {
            var state = p.Draining ? "draining" : p.State == "up" ? "reachable" : p.LastHeard is null ? "never heard" : "unreachable";
            sb.Append("<li class=\"node ").Append(p.State == "up" ? "up" : "stale").Append("\" data-node=\"").Append(E(p.Name)).Append("\"><b>").Append(E(p.Name)).Append("</b> ")
              .Append(state).Append(p.LastHeard is { } heard ? $" · last heard {Ago(at, heard)}" : "")
              .Append(p.State != "up" && p.LastHeard is not null ? " · shown with its last known state" : "");
            if (x.PeerReloadError(p.Name) is { } failed)
            {
                sb.Append("<div class=\"notice bad reload-error-peer\">The last config reload failed on ").Append(E(p.Name))
                  .Append(failed.At is { } when ? " at " + Time(when) : "").Append(": it still serves its last good config.")
                  .Append(x.Public ? "" : "<pre>" + E(failed.Error) + "</pre>").Append("</div>");
            }

            sb.Append("</li>");
        }

        sb.Append("</ul></section>");
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    private static string Ago(DateTimeOffset now, DateTimeOffset then) => Duration(now - then) + " ago";

    private static string Duration(TimeSpan d) =>
        d < TimeSpan.Zero ? "0 s"
        : d.TotalSeconds < 120 ? $"{d.TotalSeconds:0} s"
        : d.TotalMinutes < 120 ? $"{d.TotalMinutes:0} min"
        : d.TotalHours < 48 ? $"{d.TotalHours:0.#} h" : $"{d.TotalDays:0.#} days";

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private const string Script = """
        (function () {
          var live = document.getElementById('live'), mark = document.getElementById('updated');
          function show(text, cls) { mark.textContent = text; mark.className = cls; }
          function tick() {
            fetch('?fragment=1', { cache: 'no-store' })
              .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
              .then(function (html) { live.innerHTML = html; show('live', 'live'); caption(); })
              .catch(function () { show('not updating: this node does not answer (any other node serves this page)', 'stale'); });
          }
          // A tapped (or focused) uptime bar shows its figure under the bars, and keeps showing it across updates.
          var picked = null;
          function caption() {
            if (!picked) { return; }
            var art = document.getElementById(picked.article), u = art && art.querySelector('.' + picked.kind);
            var bar = u && u.querySelectorAll('.bar')[picked.index], c = u && u.querySelector('.caption');
            if (bar && c) { c.textContent = bar.getAttribute('aria-label'); }
          }
          function pick(e) {
            var bar = e.target.closest ? e.target.closest('.bar') : null;
            if (!bar) { return; }
            var u = bar.closest('.uptime'), art = bar.closest('article');
            picked = { article: art.id, kind: u.classList.contains('uptime-24h') ? 'uptime-24h' : 'uptime-90d',
                       index: Array.prototype.indexOf.call(bar.parentNode.children, bar) };
            caption();
          }
          document.addEventListener('click', pick);
          document.addEventListener('focusin', pick);
          setInterval(tick, 1000);
        })();
        """;

    private const string Css = """
        :root{--bg:#fff;--fg:#1d1d1f;--muted:#6b6b70;--line:#d9d9de;--card:#f6f6f8;--good:#1a7f37;--warn:#9a6700;--bad:#c62828;--info:#1f5fbf;--none:#c9c9cf}
        @media (prefers-color-scheme:dark){:root{--bg:#121214;--fg:#ececf0;--muted:#a0a0a8;--line:#34343a;--card:#1c1c20;--good:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff;--none:#3a3a40}}
        *{box-sizing:border-box}body{margin:0 auto;max-width:72rem;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
        h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}.meta,.muted{color:var(--muted)}footer{margin:2rem 0 1rem;color:var(--muted);font-size:.85rem}a{color:var(--info)}
        .banner{padding:.9rem 1rem;border-radius:8px;font-weight:600;font-size:1.1rem;color:#fff}.banner.good{background:var(--good)}.banner.warn{background:var(--warn)}.banner.bad{background:var(--bad)}.banner.info{background:var(--info)}
        .notice{padding:.6rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--card)}.notice.bad{border-color:var(--bad)}.notice.warn{border-color:var(--warn)}pre{white-space:pre-wrap;margin:.4rem 0 0}
        .service{border:1px solid var(--line);border-radius:8px;padding:.2rem 1rem 1rem;margin:1rem 0;background:var(--card)}
        .pill{font-size:.8rem;padding:.1rem .5rem;border-radius:999px;color:#fff;vertical-align:middle}.pill.healthy{background:var(--good)}.pill.degraded{background:var(--warn)}.pill.down{background:var(--bad)}.pill.maintenance{background:var(--info)}
        .up,.good{color:var(--good)}.down,.bad{color:var(--bad)}.suspect,.degraded,.unknown,.maintenance,.drained{color:var(--warn)}
        .banner.good,.banner.warn,.banner.bad,.banner.info,.pill.healthy,.pill.degraded,.pill.down,.pill.maintenance{color:#fff}.node{color:var(--fg)}.node.up b{color:var(--good)}.node.stale b{color:var(--bad)}
        .uptime{margin:.6rem 0}.uptime-head{display:flex;justify-content:space-between;font-size:.85rem;color:var(--muted)}.bars{display:flex;gap:2px;height:28px}
        .bar{flex:1;border-radius:2px;background:var(--none);min-width:2px}.bar.good{background:var(--good)}.bar.warn{background:var(--warn)}.bar.bad{background:var(--bad)}.bar:hover,.bar:focus{opacity:.7;outline:none}.caption{font-size:.85rem;min-height:1.2em}
        .spark svg{width:100%;max-width:300px;height:40px;display:block}.spark polyline{fill:none;stroke-width:1.5}.spark .p99{stroke:var(--warn)}.spark .p50{stroke:var(--info)}
        .scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4rem 0;min-width:100%}td,th{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;font-size:.9rem}
        .since{font-size:.85rem;font-weight:400}ul{padding-left:1.2rem}.incident .update{font-size:.85rem;color:var(--muted);margin-left:1rem}#updated.live{color:var(--good)}#updated.stale{color:var(--bad)}
        @media (max-width:600px){body{padding:.6rem}td,th{font-size:.8rem;padding:.2rem .3rem}.bars{height:22px;gap:1px}}
        """;
}

/// <summary>What the page needs beyond the status report: history, incidents and the views of every node.</summary>
internal sealed class PageExtras(StatusRecorder? recorder, double quorum, bool isPublic, NodeAliases? aliases = null)
{
    private readonly NodeAliases _aliases = aliases ?? NodeAliases.None;

    public bool Public => isPublic;

    public double Quorum => quorum;

    public IReadOnlyList<Incident> Incidents { get; } = (recorder?.ClusterIncidents() ?? [])
        .Select(i => aliases is null ? i : i with { Nodes = i.Nodes.Select(n => aliases[n]).ToList() }).ToList();

    public DateTimeOffset? Since(string service) => recorder?.Since("service", service);

    public MinuteRow? LastMinute(string service) => recorder?.Tally(service).LastMinute;

    public ServiceHistory? History(string service) => recorder?.View?.For(service, recorder.Tally(service).Peek(recorder.CurrentMinute));

    public IReadOnlyList<(string Node, bool Healthy)> Views(string service, string upstream) =>
        (recorder?.Views(service, upstream) ?? []).Select(v => (_aliases[v.Node], v.Healthy)).ToList();

    /// <summary>What node <paramref name="node"/> (as shown) last said of its path to the upstream, however long ago.</summary>
    public bool? LastKnownView(string node, string service, string upstream) =>
        recorder is null ? null : recorder.LastKnownView(_aliases.Original(node), service, upstream);

    /// <summary>A peer's last failed config reload, as it last told this node (null: none, or never heard).</summary>
    public (string Error, DateTimeOffset? At)? PeerReloadError(string peer) =>
        recorder?.Exchange?.Peers.FirstOrDefault(p => _aliases[p.Key] == peer).Value is { ReloadError: { } error } share ? (error, share.ReloadAt) : null;
}
