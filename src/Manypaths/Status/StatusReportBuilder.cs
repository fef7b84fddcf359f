using Manypaths.Health;
using Manypaths.Node;

namespace Manypaths.Status;

/// <summary>Builds the status report of one node from its live generation and switches.</summary>
internal static class StatusReportBuilder
{
    public static StatusReport Build(NodeHost host)
    {
        var g = host.Generation ?? throw new InvalidOperationException("The node has no config yet.");
        var hide = g.Config.Status.Public;
        var reloadError = host.LastReloadError is null ? null : hide ? "The last config reload failed; this node serves its last good config." : host.LastReloadError;
        var services = g.Services.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s =>
        {
            var m = host.Maintenance.Maintenance(s.Name);
            var tcp = g.Tcp.GetValueOrDefault(s.Name);
            var ups = s.Upstreams.Select(u =>
            {
                var h = u.Health.Snapshot();
                var role = s.Roles?.Verdict(u.Index);
                var down = h.State == HealthState.Down;
                return new UpstreamStatus(u.Name, hide ? null : UpstreamAddress(u.Options), u.Options.Region, u.Options.Tier, u.Options.Weight,
                    h.State.ToString().ToLowerInvariant(), hide ? "" : h.Reason, double.IsNaN(h.LatencyMs) || down ? null : Math.Round(h.LatencyMs, 2),
                    Math.Round(h.SuccessRate, 4), h.LastTransition, h.EjectedUntil, host.Maintenance.IsDrained(s.Name, u.Name),
                    role is null ? (s.Roles is null ? null : "unknown") : role.Role.ToString().ToLowerInvariant(), role?.LagBytes, tcp?.Connections.To(u.Name));
            }).ToList();
            var state = m is not null ? "maintenance"
                : ups.Any(u => !u.Drained && u.State is "up" or "unknown") ? (ups.All(u => u.State == "up" || u.Drained) ? "healthy" : "degraded")
                : ups.Any(u => !u.Drained && u.State == "suspect") ? "degraded" : "down";
            var paths = new List<PathStatus>();
            foreach (var u in ups)
            {
                paths.Add(new PathStatus(u.Name, null, u.Drained ? "drained" : u.State, u.LatencyMs, u.Drained ? "drained by an operator" : u.Reason));
                // (u.Reason is already empty in public mode: reasons can name hosts, ports and internal errors)
                if (s.Chooser.RelayEnabled)
                {
                    foreach (var (peer, usable, latency, why) in s.Chooser.Explain(Array.FindIndex(s.Upstreams, x => x.Name == u.Name)))
                    {
                        paths.Add(new PathStatus(u.Name, peer, usable ? "up" : "down", latency, hide ? "" : why));
                    }
                }
            }

            return new ServiceStatus(s.Name, s.Options.Mode.ToString().ToLowerInvariant(), hide ? null : s.Options.Listen?.For(host.NodeName)?.ToString(), state,
                m is null ? null : new MaintenanceStatus(m.Message, m.Until, m.Since), ups, paths, s.Roles?.SplitBrain, tcp?.Connections.Count);
        }).ToList();
        return Aliases(host).Apply(new StatusReport(g.Config.Cluster.Name, host.NodeName, g.Node.Region, host.Time.GetUtcNow(), host.StartedAt,
            new ConfigStatus(g.Number, g.LoadedAt, hide ? null : g.Config.SourcePath, reloadError, host.LastReloadAt, host.PendingRestart), services,
            host.Mesh?.Peers.Order(StringComparer.Ordinal).Select(p =>
            {
                var l = host.Mesh.Link(p);
                return new PeerStatus(p, Name(l.State), Rtt(l.RttMs), Math.Round(l.Loss, 4), l.LastHeard, l.Draining);
            }).ToList() ?? [],
            host.Mesh is { } mesh ? Matrix(host.NodeName, mesh, g.Config.Mesh.DeadAfter, host.Time.GetUtcNow()) : [],
            host.Draining,
            host.Recorder is { } r ? new HistoryStatus(r.Writer is not null, hide && r.HistoryError is not null ? "History is off on this node." : r.HistoryError ?? (r.Writer?.LastError is { } e ? (hide ? "History is not being written on this node; traffic is not affected." : $"History is not being written ({e}); traffic is not affected.") : null)) : null,
            host.Recorder is { } rec ? new AlertStatus(rec.LastSender, rec.Webhooks.Select(w => new WebhookStatus(w.Label, w.Delivered, w.FailedAttempts, w.GaveUp, w.Waiting,
                w.LastFailure?.At, w.LastFailure is { } f ? (hide ? "failed" : f.Error) : null)).ToList()) : null));
    }

    /// <summary>Public mode with hide_nodes: "node 1", "node 2" ... for every node of the config; else none.</summary>
    public static NodeAliases Aliases(NodeHost host) =>
        host.Generation?.Config is { Status: { Public: true, HideNodes: true } } config
            ? NodeAliases.For(config.Nodes.Keys.Append(host.NodeName).Concat(host.Mesh?.Peers ?? []))
            : NodeAliases.None;

    /// <summary>An http upstream's URL; a tcp upstream's host:port as it was written.</summary>
    private static string UpstreamAddress(Config.UpstreamOptions u) => u.Url.Scheme == "tcp" ? u.Url.Authority : u.Url.ToString();

    /// <summary>A reported row older than dead_after is stale: its node went quiet, so its "up" proves nothing.</summary>
    private static List<LinkMatrixEntry> Matrix(string self, Mesh.MeshNode mesh, TimeSpan deadAfter, DateTimeOffset now)
    {
        var nodes = mesh.Peers.Append(self).Order(StringComparer.Ordinal).ToList();
        var cells = new List<LinkMatrixEntry>();
        foreach (var from in nodes)
        {
            var reported = from == self ? null : mesh.Matrix.Get(from);
            foreach (var to in nodes.Where(n => n != from))
            {
                if (from == self)
                {
                    var l = mesh.Link(to);
                    cells.Add(new LinkMatrixEntry(from, to, Name(l.State), Rtt(l.RttMs), Math.Round(l.Loss, 4), "measured", null));
                }
                else if (reported is { } stale && now - stale.ReceivedAt > deadAfter)
                {
                    cells.Add(new LinkMatrixEntry(from, to, "unknown", null, null, "stale", stale.ReceivedAt));
                }
                else if (reported is { } row && row.Links.FirstOrDefault(c => c.Peer == to) is { Peer: not null } c)
                {
                    cells.Add(new LinkMatrixEntry(from, to, Name(c.State), Rtt(c.RttMs), double.IsFinite(c.Loss) ? Math.Round(c.Loss, 4) : null, "reported", row.ReceivedAt));
                }
                else if (reported is { } without)
                {
                    // Heard, but its row has no such peer (its config does not list it yet: it waits for a restart).
                    cells.Add(new LinkMatrixEntry(from, to, "unknown", null, null, "not_reported", without.ReceivedAt));
                }
                else
                {
                    cells.Add(new LinkMatrixEntry(from, to, "unknown", null, null, "unheard", null));
                }
            }
        }

        return cells;
    }

    private static string Name(Mesh.LinkState state) => state.ToString().ToLowerInvariant();

    private static double? Rtt(double ms) => double.IsFinite(ms) ? Math.Round(ms, 3) : null;
}
