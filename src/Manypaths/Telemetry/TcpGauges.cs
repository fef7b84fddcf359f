using System.Diagnostics.Metrics;
using Manypaths.Config;
using Manypaths.Node;

namespace Manypaths.Telemetry;

/// <summary>
/// Gauges of the tcp services, read from the live generation at each scrape: connections per service and upstream,
/// each role-checked upstream's role (1 for the role it has) and replication lag, and whether a service sees two
/// primaries.
/// </summary>
internal static class TcpGauges
{
    private static readonly string[] Roles = ["primary", "replica", "unknown"];

    public static void Register(Meter meter, Func<NodeGeneration?> live)
    {
        meter.CreateObservableGauge("manypaths_tcp_connections", () => Connections(live()),
            description: "Client connections open through a tcp service on this node, by upstream.");
        meter.CreateObservableGauge("manypaths_upstream_role", () => Role(live()),
            description: "1 for the role a role-checked upstream last reported (primary, replica, unknown), 0 for the others.");
        meter.CreateObservableGauge("manypaths_upstream_replication_lag_bytes", () => Lag(live()), unit: "By",
            description: "Bytes a replica is behind its primary (Redis offsets, PostgreSQL LSNs), when measured.");
        meter.CreateObservableGauge("manypaths_split_brain", () => Split(live()),
            description: "1 while two upstreams of a primary-checked service both say primary and writes are refused.");
    }

    private static IEnumerable<Measurement<long>> Connections(NodeGeneration? g)
    {
        foreach (var t in g?.Tcp.Values ?? [])
        {
            foreach (var u in t.Core.Upstreams)
            {
                yield return new(t.Connections.To(u.Name), new("service", t.Name), new("upstream", u.Name));
            }
        }
    }

    private static IEnumerable<Measurement<long>> Role(NodeGeneration? g)
    {
        foreach (var s in g?.Services.Values ?? [])
        {
            if (s.Roles is not { } board)
            {
                continue;
            }

            foreach (var u in s.Upstreams)
            {
                var role = board.Verdict(u.Index)?.Role.ToString().ToLowerInvariant() ?? "unknown";
                foreach (var r in Roles)
                {
                    yield return new(r == role ? 1 : 0, new("service", s.Name), new("upstream", u.Name), new("role", r));
                }
            }
        }
    }

    private static IEnumerable<Measurement<long>> Lag(NodeGeneration? g)
    {
        foreach (var s in g?.Services.Values ?? [])
        {
            foreach (var u in s.Upstreams)
            {
                if (s.Roles?.Verdict(u.Index)?.LagBytes is { } lag)
                {
                    yield return new(lag, new("service", s.Name), new("upstream", u.Name));
                }
            }
        }
    }

    private static IEnumerable<Measurement<long>> Split(NodeGeneration? g)
    {
        foreach (var s in g?.Services.Values ?? [])
        {
            if (s.Roles is { } board && s.Options.Health.Check.WantsPrimary())
            {
                yield return new(board.SplitBrain is null ? 0 : 1, new KeyValuePair<string, object?>("service", s.Name));
            }
        }
    }
}
