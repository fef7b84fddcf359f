using Manypaths.Health;

namespace Manypaths.Routing;

/// <summary>
/// Picks the upstream for one attempt. Order: tier (lowest with a usable upstream) over region (own, else lowest
/// latency) over weight; Up before Suspect. Pure apart from the random source and the region memory.
/// </summary>
internal sealed class UpstreamSelector(string? nodeRegion, RegionPreference regions, Random random)
{
    /// <param name="relayable">Upstream index -> a peer can reach it for this request (null: no relay mesh).</param>
    /// <param name="relayBeatsLowerTier">False: a direct path of any tier is used before a relayed one.</param>
    public Pick Select(IReadOnlyList<UpstreamView> upstreams, IReadOnlySet<int> tried, bool allowLeastBad, Func<int, bool>? relayable = null, bool relayBeatsLowerTier = true)
    {
        if (relayable is not null && !relayBeatsLowerTier)
        {
            var directOnly = Select(upstreams, tried, allowLeastBad: false);
            if (directOnly.Found)
            {
                return directOnly;
            }
        }

        var tier = int.MaxValue;
        var direct = false;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            var usable = Eligible(u, i, tried) && u.Health.Usable;
            if (usable && (u.Tier < tier || (u.Tier == tier && !direct)))
            {
                tier = u.Tier;
                direct = true;
            }
            else if (!u.Drained && u.Tier < tier && relayable is not null && relayable(i))
            {
                // A relayed path to a better tier beats a direct path to a worse one.
                tier = u.Tier;
                direct = false;
            }
        }

        if (tier != int.MaxValue)
        {
            return direct ? new Pick(PickInTier(upstreams, tried, tier), PickReason.Healthy) : PickRelayed(upstreams, tier, relayable!);
        }

        return allowLeastBad ? LeastBad(upstreams, tried) : Pick.Nothing;
    }

    private Pick PickRelayed(IReadOnlyList<UpstreamView> upstreams, int tier, Func<int, bool> relayable)
    {
        var total = 0;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (upstreams[i].Tier == tier && !upstreams[i].Drained && relayable(i))
            {
                total += upstreams[i].Weight;
            }
        }

        var ticket = random.Next(Math.Max(total, 1));
        var last = -1;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (upstreams[i].Tier == tier && !upstreams[i].Drained && relayable(i))
            {
                last = i;
                ticket -= upstreams[i].Weight;
                if (ticket < 0)
                {
                    break;
                }
            }
        }

        return last < 0 ? Pick.Nothing : new Pick(last, PickReason.Relayed);
    }

    private int PickInTier(IReadOnlyList<UpstreamView> upstreams, IReadOnlySet<int> tried, int tier)
    {
        var region = ChooseRegion(upstreams, tried, tier);
        var anyUp = false;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (InGroup(u, i, tried, tier, region) && u.Health.State != HealthState.Suspect)
            {
                anyUp = true;
                break;
            }
        }

        var total = 0;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (InGroup(u, i, tried, tier, region) && (!anyUp || u.Health.State != HealthState.Suspect))
            {
                total += u.Weight;
            }
        }

        var ticket = random.Next(total);
        var last = -1;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (InGroup(u, i, tried, tier, region) && (!anyUp || u.Health.State != HealthState.Suspect))
            {
                last = i;
                ticket -= u.Weight;
                if (ticket < 0)
                {
                    return i;
                }
            }
        }

        return last;
    }

    private string? ChooseRegion(IReadOnlyList<UpstreamView> upstreams, IReadOnlySet<int> tried, int tier)
    {
        // Fast path, no allocation: every candidate of the tier is in one region (or the node's own region is there).
        string? only = null;
        var several = false;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (!Eligible(u, i, tried) || !u.Health.Usable || u.Tier != tier)
            {
                continue;
            }

            var r = u.Region ?? "";
            if (nodeRegion is not null && r == nodeRegion)
            {
                return r;
            }

            if (only is null)
            {
                only = r;
            }
            else if (only != r)
            {
                several = true;
            }
        }

        if (!several)
        {
            return only;
        }

        var stats = new List<(string Region, double Sum, int Known)>();
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (!Eligible(u, i, tried) || !u.Health.Usable || u.Tier != tier)
            {
                continue;
            }

            var region = u.Region ?? "";
            if (nodeRegion is not null && region == nodeRegion)
            {
                return region;
            }

            var at = stats.FindIndex(s => s.Region == region);
            var latency = u.Health.LatencyMs;
            var known = double.IsNaN(latency) ? 0 : 1;
            if (at < 0)
            {
                stats.Add((region, known == 1 ? latency : 0, known));
            }
            else
            {
                stats[at] = (region, stats[at].Sum + (known == 1 ? latency : 0), stats[at].Known + known);
            }
        }

        if (stats.Count == 1)
        {
            return stats[0].Region;
        }

        var means = stats.Select(s => (s.Region, s.Known == 0 ? double.NaN : s.Sum / s.Known)).ToList();
        return regions.Choose(tier, means);
    }

    private static Pick LeastBad(IReadOnlyList<UpstreamView> upstreams, IReadOnlySet<int> tried)
    {
        var best = -1;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var u = upstreams[i];
            if (!Eligible(u, i, tried))
            {
                continue;
            }

            if (best < 0 || Badness(u).CompareTo(Badness(upstreams[best])) < 0)
            {
                best = i;
            }
        }

        return best < 0 ? Pick.Nothing : new Pick(best, PickReason.LeastBad);
    }

    /// <summary>Fewest failures first, then the ejection that ends soonest, then the lower tier.</summary>
    private static (int, long, int) Badness(UpstreamView u) =>
        (u.Health.ConsecutiveFailures, u.Health.EjectedUntil?.UtcTicks ?? 0, u.Tier);

    private static bool Eligible(UpstreamView u, int index, IReadOnlySet<int> tried) => !u.Drained && !tried.Contains(index);

    private static bool InGroup(UpstreamView u, int index, IReadOnlySet<int> tried, int tier, string? region) =>
        Eligible(u, index, tried) && u.Health.Usable && u.Tier == tier && (u.Region ?? "") == region;
}
