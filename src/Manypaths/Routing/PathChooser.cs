using Manypaths.Config;
using Manypaths.Health;

namespace Manypaths.Routing;

/// <summary>One upstream as the chooser sees it: where it ranks, and its direct path's health on this node.</summary>
internal sealed record ChooserUpstream(string Name, int Tier, string? Region, int Weight, UpstreamHealth Health);

/// <summary>
/// The only place that chooses a path. For each attempt of a request, <see cref="Next"/> returns the next path: tier
/// first (lowest with a usable path); within the tier a usable direct path, by region (own, else the lowest measured
/// latency, with hysteresis) then Up before Suspect then weight, unless a relayed path to that upstream is clearly
/// better (loss or latency margin); when the tier has no usable direct path, the same tier through the peer with the
/// lowest cost (a relayed primary beats a direct backup unless <see cref="RelayPolicy.PreferOverBackup"/> is off, or
/// unless that upstream's own side just answered that it is down: then any direct path comes first); when nothing is
/// usable, the least-bad direct upstream once. Never a path the request already tried; a relayed
/// request (pinned) gets its named upstream, directly, once. <see cref="Report"/> feeds the chosen path's health:
/// a direct path is the upstream's <see cref="UpstreamHealth"/>, a relayed one has its own (same rise/fall and
/// ejection). A strict chooser (role-checked services: a replica must never take writes) uses only paths whose check
/// said yes (never Unknown) and never guesses the least-bad. Pure apart from the random source and the region memory: tested without sockets.
/// </summary>
internal sealed class PathChooser(
    string service,
    IReadOnlyList<ChooserUpstream> upstreams,
    Func<int, bool> drained,
    Func<int, string, UpstreamHealth> relayHealth,
    IRelayCandidates? relays,
    RelayPolicy policy,
    string? nodeRegion,
    Random? random = null,
    bool strict = false)
{
    private readonly Random _random = random ?? Random.Shared;
    private readonly RegionPreference _regions = new();

    /// <summary>Each upstream's direct path, chosen as healthy: made once (nearly every request gets one of these).</summary>
    private readonly PathChoice[] _direct = upstreams.Select((u, i) => new PathChoice(new PathKey(i, null), u.Tier, PickReason.Healthy)).ToArray();

    public IReadOnlyList<ChooserUpstream> Upstreams => upstreams;

    public bool RelayEnabled => relays is not null;

    /// <summary>A request could ever go another way: more than one upstream, or peers to relay through. Without
    /// one, a request has nothing to hedge, race or rescue to, so its loop arms no timer.</summary>
    public bool HasAlternatives => upstreams.Count > 1 || relays is not null;

    /// <param name="onlyTier">Stay in this tier (a connect race never falls to a lower tier).</param>
    /// <param name="allowLeastBad">When nothing is usable, try the least-bad upstream (once per request).</param>
    public PathChoice? Next(AttemptHistory history, int? onlyTier = null, bool allowLeastBad = true)
    {
        if (history.Pinned is { } pinned)
        {
            var key = new PathKey(pinned, null);
            return history.Tried(key) || pinned >= upstreams.Count ? null : _direct[pinned];
        }

        // Pooled: this runs for every attempt (only indexes below upstreams.Count are read).
        var snapshots = System.Buffers.ArrayPool<HealthSnapshot>.Shared.Rent(upstreams.Count);
        try
        {
            for (var i = 0; i < upstreams.Count; i++)
            {
                snapshots[i] = upstreams[i].Health.Snapshot();
            }

            return Choose(history, onlyTier, allowLeastBad, snapshots);
        }
        finally
        {
            System.Buffers.ArrayPool<HealthSnapshot>.Shared.Return(snapshots, System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<HealthSnapshot>());
        }
    }

    private PathChoice? Choose(AttemptHistory history, int? onlyTier, bool allowLeastBad, HealthSnapshot[] snapshots)
    {
        var relayAllowed = relays is not null && history.HopsLeft > 0;
        var directTier = int.MaxValue;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (InScope(i, onlyTier) && Fit(snapshots[i]) && !history.Tried(new PathKey(i, null)))
            {
                directTier = Math.Min(directTier, upstreams[i].Tier);
            }
        }

        if (relayAllowed && (policy.PreferOverBackup || directTier == int.MaxValue))
        {
            // A relayed path to a better tier beats a direct path to a worse one (or, by policy, only when no
            // direct path of any tier is left).
            var relayed = RelayedInBestTier(history, onlyTier, policy.PreferOverBackup ? directTier : int.MaxValue, snapshots, skipDownByAnswer: true);
            if (relayed is not null)
            {
                return relayed;
            }
        }

        if (directTier != int.MaxValue)
        {
            var i = PickInTier(snapshots, history, directTier);
            if (relayAllowed && BestRelay(i, history, out var relayQuiet) is { } better
                && ((snapshots[i].Quiet && !relayQuiet) || ClearlyBetter(better, snapshots[i], policy)))
            {
                // A quiet direct path (nothing came back on it lately while requests waited) sends new requests
                // through a peer until an answer comes or it is judged: a relayed round trip more, not a rescue later.
                return new PathChoice(new PathKey(i, better.Peer), directTier, PickReason.Relayed, better.PeerMesh);
            }

            return _direct[i]; // of tier directTier
        }

        // No direct path left: an upstream whose side answered "down" may still be reachable through a peer that
        // reports it up (a firewall rejecting only this node), so its relayed paths come before the least-bad guess.
        if (relayAllowed && RelayedInBestTier(history, onlyTier, int.MaxValue, snapshots, skipDownByAnswer: false) is { } lastRelay)
        {
            return lastRelay;
        }

        return allowLeastBad && !strict && !history.LeastBadUsed ? LeastBad(snapshots, history, onlyTier) : null;
    }

    /// <summary>
    /// The paths a request would turn to if the one it takes now failed, as <see cref="Next"/> would pick them: the
    /// next path after the first choice (the same upstream through the cheapest peer and the next cheapest, or another
    /// upstream of the tier), and the next one when the first choice's upstream itself answered that it is gone (a
    /// direct backup). Their connection
    /// pools are kept warm (<c>Proxy/StandbyWarmer</c>), so a failover does not pay a connect per request. Without
    /// another path (one upstream, no peers), none.
    /// </summary>
    /// <param name="hopsLeft">The hops a request of this node may take (0: no relayed paths).</param>
    public IReadOnlyList<PathChoice> Standby(int hopsLeft)
    {
        var pathFails = new AttemptHistory { HopsLeft = hopsLeft, WhatIf = true };
        if (Next(pathFails, allowLeastBad: false) is not { } first)
        {
            return [];
        }

        var standby = new List<PathChoice>(3);
        pathFails.Add(first.Key);
        if (Next(pathFails, allowLeastBad: false) is { } next)
        {
            standby.Add(next);
            pathFails.Add(next.Key);
            if (next.Peer is not null && Next(pathFails, allowLeastBad: false) is { Peer: not null } another && another.Upstream == next.Upstream)
            {
                standby.Add(another); // the second-cheapest peer too: which of two is cheaper flips with noise
            }
        }

        var upstreamGone = new AttemptHistory { HopsLeft = hopsLeft, WhatIf = true };
        upstreamGone.Add(first.Key);
        upstreamGone.MarkAnsweredDown(first.Upstream);
        if (Next(upstreamGone, allowLeastBad: false) is { } backup && !standby.Exists(s => s.Key == backup.Key))
        {
            standby.Add(backup);
        }

        return standby;
    }

    /// <summary>
    /// Whether a request could go some usable way other than <paramref name="key"/> right now (another upstream, or
    /// another path to the same one), as <see cref="Next"/> would pick it, least-bad guesses not counted. Ejecting the
    /// last usable path rescues nobody: it only turns requests that may still be answered into failures.
    /// </summary>
    public bool HasUsableBesides(PathKey key, int hopsLeft)
    {
        var other = new AttemptHistory { HopsLeft = hopsLeft, WhatIf = true };
        other.Add(key);
        return Next(other, allowLeastBad: false) is not null;
    }

    /// <summary>May this path be chosen: usable, and for a strict chooser also checked (not Unknown).</summary>
    private bool Fit(HealthSnapshot s) => strict ? s.State is HealthState.Up or HealthState.Suspect : s.Usable;

    /// <summary>What one attempt on <paramref name="choice"/> told us about that path.</summary>
    public void Report(PathChoice choice, RequestOutcome outcome, TimeSpan latency, string detail) =>
        HealthOf(choice.Key).ReportRequest(outcome, latency, detail);

    /// <summary>The health state machine of one path: the upstream's for a direct path, its own for a relayed one.</summary>
    public UpstreamHealth HealthOf(PathKey key) => key.Peer is null ? upstreams[key.Upstream].Health : relayHealth(key.Upstream, key.Peer);

    /// <summary>
    /// The paths whose pooled connections a standby warm-up of <paramref name="path"/> holds for a round trip, to be
    /// marked <see cref="UpstreamHealth.BeginWarming"/> so new requests prefer another path of their rank meanwhile:
    /// the path itself; and for a <paramref name="burst"/> through a peer (a GET per connection), every upstream's path
    /// through that peer (each the peer offers), since they all share this node's connections to it. Measured at 60 ms
    /// between sites: a burst warming the backup's path through s3 took every idle connection to s3 just as the
    /// cheaper peer for the primary flipped to s3, and 78 requests each paid a connect.
    /// </summary>
    public IReadOnlyList<UpstreamHealth> HeldByWarmup(PathKey path, bool burst)
    {
        if (path.Peer is not { } peer || !burst || relays is null)
        {
            return [HealthOf(path)];
        }

        var held = new List<UpstreamHealth>(upstreams.Count);
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (i == path.Upstream || relays.For(service, upstreams[i].Name).Any(c => c.Peer == peer))
            {
                held.Add(relayHealth(i, peer)); // only paths that exist: no health is made for one that does not
            }
        }

        return held;
    }

    /// <summary>Every peer's path to one upstream, usable or not, and why, for the status page.</summary>
    public IEnumerable<(string Peer, bool Usable, double? LatencyMs, string Why)> Explain(int upstream)
    {
        if (relays is null)
        {
            yield break;
        }

        foreach (var c in relays.For(service, upstreams[upstream].Name).OrderBy(c => c.Peer, StringComparer.Ordinal))
        {
            var health = relayHealth(upstream, c.Peer).Snapshot();
            var latency = double.IsFinite(c.LatencyMs) ? Math.Round(c.LatencyMs, 2) : (double?)null;
            if (!c.Usable)
            {
                yield return (c.Peer, false, latency, c.Why);
            }
            else if (!health.Usable)
            {
                yield return (c.Peer, false, latency, $"relayed requests through {c.Peer}: {health.Reason}");
            }
            else
            {
                yield return (c.Peer, true, latency, c.Why);
            }
        }
    }

    /// <summary>
    /// A direct path that works but is degraded gives way to a relayed one only when that is clearly better (by the
    /// policy's loss or latency margin), so traffic does not move for noise.
    /// </summary>
    public static bool ClearlyBetter(RelayCandidate relay, HealthSnapshot direct, RelayPolicy policy)
    {
        var directLoss = 1 - direct.SuccessRate;
        if (directLoss - relay.Loss > policy.LossMargin)
        {
            return true;
        }

        return !double.IsNaN(direct.LatencyMs) && direct.LatencyMs - relay.LatencyMs > policy.LatencyMargin.TotalMilliseconds;
    }

    private bool InScope(int i, int? onlyTier) => !drained(i) && (onlyTier is null || upstreams[i].Tier == onlyTier);

    /// <summary>The cheapest usable relayed path to upstream <paramref name="i"/> not tried yet by this request; one being
    /// warmed only when every other such path is warming or quiet, a quiet one only when every such path is quiet.</summary>
    private RelayCandidate? BestRelay(int i, AttemptHistory history) => BestRelay(i, history, out _);

    private RelayCandidate? BestRelay(int i, AttemptHistory history, out bool quiet)
    {
        RelayCandidate? best = null;
        var bestClass = int.MaxValue;
        foreach (var c in relays!.For(service, upstreams[i].Name))
        {
            if (!c.Usable || history.Tried(new PathKey(i, c.Peer)) || relayHealth(i, c.Peer).Snapshot() is var health && !Fit(health))
            {
                continue;
            }

            var cls = health.Quiet ? 2 : health.Warming ? 1 : 0;
            if (cls < bestClass || (cls == bestClass && c.LatencyMs < best!.LatencyMs))
            {
                (best, bestClass) = (c, cls);
            }
        }

        quiet = bestClass == 2;
        return best;
    }

    /// <summary>
    /// In the lowest tier below <paramref name="belowTier"/> that has a relayable upstream: one by weight, through its
    /// best peer. With <paramref name="skipDownByAnswer"/>, not an upstream whose own side just answered that it is
    /// down (<see cref="HealthSnapshot.DownByAnswer"/>): a refused connect or a closed connection says the upstream
    /// died, not the path, and peers see the same a probe later, so another upstream (a direct backup) is tried first.
    /// Nor, on the way back, one that died so and returned only as the peers see it yet
    /// (<see cref="UpstreamHealth.ReturnNotYetSeenHere"/>): this node's own probes are about to see it too.
    /// The same for an upstream that answered so to this very request, before its health has seen enough of it.
    /// </summary>
    private PathChoice? RelayedInBestTier(AttemptHistory history, int? onlyTier, int belowTier, HealthSnapshot[] snapshots, bool skipDownByAnswer)
    {
        var best = new Dictionary<int, RelayCandidate>();
        var tier = int.MaxValue;
        for (var i = 0; i < upstreams.Count; i++)
        {
            var t = upstreams[i].Tier;
            if (!InScope(i, onlyTier) || t >= belowTier || t > tier || (skipDownByAnswer && (snapshots[i].DownByAnswer || history.AnsweredDown(i))) || BestRelay(i, history) is not { } via
                || (skipDownByAnswer && upstreams[i].Health.ReturnNotYetSeenHere(relayHealth(i, via.Peer).Snapshot())))
            {
                continue;
            }

            if (t < tier)
            {
                tier = t;
                best.Clear();
            }

            best[i] = via;
        }

        if (best.Count == 0)
        {
            return null;
        }

        var ticket = _random.Next(Math.Max(best.Keys.Sum(i => upstreams[i].Weight), 1));
        var chosen = -1;
        foreach (var i in best.Keys.Order())
        {
            chosen = i;
            ticket -= upstreams[i].Weight;
            if (ticket < 0)
            {
                break;
            }
        }

        var peer = best[chosen];
        return new PathChoice(new PathKey(chosen, peer.Peer), tier, PickReason.Relayed, peer.PeerMesh);
    }

    /// <summary>Within a tier: own region, else the lowest-latency one; Up before warming (a standby warm-up holds its
    /// connections) before Suspect before quiet; then weighted random.</summary>
    /// <remarks>On every request's path: plain loops, no delegates or LINQ (they were a tenth of what a request allocated).</remarks>
    private int PickInTier(HealthSnapshot[] snapshots, AttemptHistory history, int tier)
    {
        var region = ChooseRegion(snapshots, history, tier);
        var bestClass = int.MaxValue;
        for (var i = 0; i < upstreams.Count; i++)
        {
            bestClass = InGroup(i) ? Math.Min(bestClass, Class(i)) : bestClass;
        }

        var total = 0;
        for (var i = 0; i < upstreams.Count; i++)
        {
            total += Eligible(i) ? upstreams[i].Weight : 0;
        }

        var ticket = _random.Next(Math.Max(total, 1));
        var last = -1;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (!Eligible(i))
            {
                continue;
            }

            last = i;
            ticket -= upstreams[i].Weight;
            if (ticket < 0)
            {
                return i;
            }
        }

        return last;

        bool InGroup(int i) => Candidate(snapshots, history, tier, i) && (upstreams[i].Region ?? "") == region;
        int Class(int i) => snapshots[i].Quiet ? 3 : snapshots[i].State == HealthState.Suspect ? 2 : snapshots[i].Warming ? 1 : 0;
        bool Eligible(int i) => InGroup(i) && Class(i) == bestClass;
    }

    private bool Candidate(HealthSnapshot[] snapshots, AttemptHistory history, int tier, int i) =>
        InScope(i, tier) && Fit(snapshots[i]) && !history.Tried(new PathKey(i, null));

    private string ChooseRegion(HealthSnapshot[] snapshots, AttemptHistory history, int tier)
    {
        // Most tiers have one region among their candidates (or the node's own): no list needed.
        string? only = null;
        var several = false;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (!Candidate(snapshots, history, tier, i))
            {
                continue;
            }

            var region = upstreams[i].Region ?? "";
            if (nodeRegion is not null && region == nodeRegion)
            {
                return region;
            }

            several |= only is not null && only != region;
            only ??= region;
        }

        if (!several)
        {
            return only ?? "";
        }

        var stats = new List<(string Region, double Sum, int Known)>(2);
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (!Candidate(snapshots, history, tier, i))
            {
                continue;
            }

            var region = upstreams[i].Region ?? "";
            var at = stats.FindIndex(s => s.Region == region);
            var latency = snapshots[i].LatencyMs;
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

        return _regions.Choose(tier, stats.Select(s => (s.Region, s.Known == 0 ? double.NaN : s.Sum / s.Known)).ToList(), remember: !history.WhatIf);
    }

    /// <summary>
    /// Every path looks down: the one with the best record gets this request once (health data can be wrong). Fewest
    /// failures in a row first, then the ejection that ends soonest, then the lower tier; a direct path wins a tie.
    /// Relayed paths through a live peer count too, though the peer's view of the upstream is down: when the upstream
    /// only paused (its probes timed out everywhere) and this node's own path is dark, the peer's path that was serving
    /// a moment ago is the one that can still get an answer (the peer sends a relayed request to the upstream it names,
    /// whatever its view). Measured in the netns relay test with the upstream stopped 0.4 s five times: 32 of 1,000
    /// requests got 503 when the least-bad guess was only the dark direct path.
    /// </summary>
    private PathChoice? LeastBad(HealthSnapshot[] snapshots, AttemptHistory history, int? onlyTier)
    {
        PathChoice? best = null;
        (int, long, int) bestBadness = default;
        var relayAllowed = relays is not null && history.HopsLeft > 0;
        for (var i = 0; i < upstreams.Count; i++)
        {
            if (!InScope(i, onlyTier))
            {
                continue;
            }

            if (!history.Tried(new PathKey(i, null)))
            {
                Consider(new PathKey(i, null), snapshots[i], null);
            }

            if (!relayAllowed)
            {
                continue;
            }

            foreach (var c in relays!.For(service, upstreams[i].Name))
            {
                var key = new PathKey(i, c.Peer);
                if ((c.Usable || c.PeerAlive) && !history.Tried(key))
                {
                    Consider(key, relayHealth(i, c.Peer).Snapshot(), c.PeerMesh);
                }
            }
        }

        return best;

        void Consider(PathKey key, HealthSnapshot health, Uri? peerMesh)
        {
            var badness = (health.ConsecutiveFailures, health.EjectedUntil?.UtcTicks ?? 0, upstreams[key.Upstream].Tier);
            if (best is null || badness.CompareTo(bestBadness) < 0)
            {
                best = new PathChoice(key, upstreams[key.Upstream].Tier, PickReason.LeastBad, peerMesh);
                bestBadness = badness;
            }
        }
    }
}
