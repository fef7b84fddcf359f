using Manypaths.Status;

namespace Manypaths.History;

/// <summary>
/// A status report reduced to signals: (kind, subject) -> state (docs/design/status-and-alerts.md). A signal this
/// node cannot judge yet (nothing probed, no usable path) is left out, so a start or a gap is never a transition.
/// </summary>
internal static class Signals
{
    /// <param name="upstreamByQuorum">Whether the reachable nodes' quorum sees service/upstream up (null: nobody has a view yet).</param>
    public static Dictionary<(string Kind, string Subject), string> Read(StatusReport report, Func<string, string, bool?> upstreamByQuorum)
    {
        var signals = new Dictionary<(string, string), string>();
        foreach (var s in report.Services)
        {
            signals[("service", s.Name)] = s.State == "down" ? "down" : "up";
            signals[("maintenance", s.Name)] = s.Maintenance is null ? "off" : "on";
            var usable = s.Upstreams.Where(u => !u.Drained && u.State is "up" or "suspect").ToList();
            var relayedUp = s.Paths.Where(p => p.Via is not null && p.State == "up").Select(p => p.Upstream).ToHashSet(StringComparer.Ordinal);
            var serving = s.Upstreams.Where(u => !u.Drained && (u.State is "up" or "suspect" || relayedUp.Contains(u.Name))).ToList();
            if (serving.Count > 0 && s.Upstreams.Count > 0)
            {
                var best = s.Upstreams.Min(u => u.Tier);
                var tier = serving.Min(u => u.Tier);
                signals[("failover", s.Name)] = tier == best ? "primary" : $"tier {tier}";
                signals[("relayed", s.Name)] = usable.Count > 0 ? "direct" : "relayed";

                // Region: where the serving tier's requests go, from this node: its own region while an upstream there
                // serves, else the other regions that do (a region failover is this signal leaving "local").
                var inTier = serving.Where(u => u.Tier == tier).ToList();
                if (report.Region is { } home && inTier.Any(u => u.Region is not null))
                {
                    signals[("region", s.Name)] = inTier.Any(u => u.Region == home) ? "local"
                        : string.Join(",", inTier.Select(u => u.Region ?? "?").Distinct().Order(StringComparer.Ordinal));
                }
            }

            foreach (var u in s.Upstreams)
            {
                if (upstreamByQuorum(s.Name, u.Name) is { } up)
                {
                    signals[("upstream", $"{s.Name}/{u.Name}")] = up ? "up" : "down";
                }
            }
        }

        foreach (var p in report.Peers)
        {
            if (p.State is "up" or "down")
            {
                signals[("link", $"{report.Node}>{p.Name}")] = p.State;
            }
        }

        // A node is reachable while some node's fresh view of its link to it is up (this node's own measurement among them).
        foreach (var node in report.Peers.Select(p => p.Name))
        {
            var cells = report.LinkMatrix.Where(c => c.To == node && c.Source is "measured" or "reported").ToList();
            if (cells.Count > 0 && cells.All(c => c.State is "up" or "down"))
            {
                signals[("node", node)] = cells.Any(c => c.State == "up") ? "reachable" : "unreachable";
            }
        }

        return signals;
    }

    /// <summary>Signals present in both samples whose state changed, in a stable order.</summary>
    public static List<Transition> Diff(IReadOnlyDictionary<(string Kind, string Subject), string> before, IReadOnlyDictionary<(string Kind, string Subject), string> now, DateTimeOffset at) =>
        now.Where(n => before.TryGetValue(n.Key, out var was) && was != n.Value)
            .OrderBy(n => n.Key.Kind, StringComparer.Ordinal).ThenBy(n => n.Key.Subject, StringComparer.Ordinal)
            .Select(n => new Transition(at, n.Key.Kind, n.Key.Subject, before[n.Key], n.Value)).ToList();
}
