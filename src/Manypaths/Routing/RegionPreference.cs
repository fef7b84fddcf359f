namespace Manypaths.Routing;

/// <summary>
/// Which region a node prefers when none of a tier's healthy upstreams shares its own region: the lowest measured
/// latency, with hysteresis so two close regions do not make traffic flap. Remembers one choice per tier.
/// </summary>
internal sealed class RegionPreference(double switchRatio = 0.8)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, string> _chosen = [];

    /// <param name="latencies">Mean latency (ms, NaN when unknown) of each region that has a healthy upstream, in declaration order.</param>
    /// <param name="remember">False: answer as a real request would be answered, but keep the memory as it is (a
    /// question about standby paths must not move real traffic).</param>
    public string Choose(int tier, IReadOnlyList<(string Region, double LatencyMs)> latencies, bool remember = true)
    {
        var best = latencies[0];
        foreach (var r in latencies)
        {
            if (Better(r.LatencyMs, best.LatencyMs))
            {
                best = r;
            }
        }

        lock (_lock)
        {
            if (_chosen.TryGetValue(tier, out var current))
            {
                foreach (var r in latencies)
                {
                    // Stay unless the best is clearly better (or the current one has no measurement yet).
                    if (r.Region == current && (best.Region == current || !(best.LatencyMs < r.LatencyMs * switchRatio) && !double.IsNaN(r.LatencyMs)))
                    {
                        return current;
                    }
                }
            }

            if (remember)
            {
                _chosen[tier] = best.Region;
            }

            return best.Region;
        }
    }

    private static bool Better(double a, double b) => !double.IsNaN(a) && (double.IsNaN(b) || a < b);
}
