using Manypaths.Health;
using Manypaths.Routing;

namespace Manypaths.Mesh;

/// <summary>A peer through which this node can reach an upstream, and what that path costs.</summary>
internal sealed record RelayPath(string Peer, Uri PeerMesh, double LatencyMs, double Loss);

/// <summary>
/// Origin side of the relay mesh: for an upstream of a service, the best peer to go through, from the link to
/// the peer (UDP) and the peer's own view of the upstream, minus peers whose relayed traffic just failed.
/// </summary>
internal sealed class RelayPaths(MeshNode mesh, IReadOnlyDictionary<string, Uri> peerMesh, TimeProvider time)
{
    private static readonly TimeSpan PenaltyBox = TimeSpan.FromSeconds(5);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Peer, string Service, string Upstream), DateTimeOffset> _failed = new();

    /// <param name="skip">Peers this request already went through for this upstream.</param>
    public RelayPath? Best(string service, string upstream, Func<string, bool>? skip = null)
    {
        RelayPath? best = null;
        var now = time.GetUtcNow();
        foreach (var (peer, url) in peerMesh)
        {
            if (skip?.Invoke(peer) == true)
            {
                continue;
            }

            var link = mesh.Link(peer);
            if (link.State != LinkState.Up || link.Loss > 0.5 || link.Draining)
            {
                continue;
            }

            if (_failed.TryGetValue((peer, service, upstream), out var until) && now < until)
            {
                continue;
            }

            if (mesh.Views.Get(peer, service, upstream) is not { State: HealthState.Up or HealthState.Suspect } view)
            {
                continue;
            }

            var latency = (double.IsNaN(link.RttMs) ? 1 : link.RttMs) + view.LatencyMs;
            var loss = 1 - ((1 - link.Loss) * Math.Clamp(view.SuccessRate, 0, 1));
            if (best is null || latency < best.LatencyMs)
            {
                best = new RelayPath(peer, url, latency, loss);
            }
        }

        return best;
    }

    /// <summary>Every peer's path to one upstream, with its state and why, for the status API.</summary>
    public IEnumerable<(string Peer, bool Usable, double? LatencyMs, string Why)> Explain(string service, string upstream)
    {
        var now = time.GetUtcNow();
        foreach (var peer in peerMesh.Keys.Order(StringComparer.Ordinal))
        {
            var link = mesh.Link(peer);
            var view = mesh.Views.Get(peer, service, upstream);
            var latency = view is { } v && !double.IsNaN(link.RttMs) ? Math.Round(link.RttMs + v.LatencyMs, 2) : (double?)null;
            string why;
            var usable = false;
            if (link.State != LinkState.Up)
            {
                why = $"link to {peer} is {link.State.ToString().ToLowerInvariant()}";
            }
            else if (link.Draining)
            {
                why = $"{peer} is shutting down (draining)";
            }
            else if (link.Loss > 0.5)
            {
                why = $"link to {peer} loses {link.Loss:P0} of heartbeats";
            }
            else if (_failed.TryGetValue((peer, service, upstream), out var until) && now < until)
            {
                why = $"relayed requests through {peer} failed; avoided until {until:HH:mm:ss}";
            }
            else if (view is null)
            {
                why = $"no view of {upstream} from {peer} yet";
            }
            else if (view.Value.State is not (HealthState.Up or HealthState.Suspect))
            {
                why = $"{peer}'s own path to {upstream} is {view.Value.State.ToString().ToLowerInvariant()}";
            }
            else
            {
                usable = true;
                why = $"link rtt {link.RttMs:0.0} ms, loss {link.Loss:P0}; {peer} sees {upstream} {view.Value.State.ToString().ToLowerInvariant()}";
            }

            yield return (peer, usable, latency, why);
        }
    }

    /// <summary>
    /// A direct path that still works but is degraded: the relayed one must be clearly better (by the policy's
    /// loss or latency margin), so traffic does not move for noise.
    /// </summary>
    public static bool ClearlyBetter(RelayPath relay, HealthSnapshot direct, Config.RelayPolicy policy)
    {
        var directLoss = 1 - direct.SuccessRate;
        if (directLoss - relay.Loss > policy.LossMargin)
        {
            return true;
        }

        return !double.IsNaN(direct.LatencyMs) && direct.LatencyMs - relay.LatencyMs > policy.LatencyMargin.TotalMilliseconds;
    }

    /// <summary>Passive correction: real relayed traffic through this peer failed; avoid the path for a while.</summary>
    public void Failed(string peer, string service, string upstream) => _failed[(peer, service, upstream)] = time.GetUtcNow() + PenaltyBox;
}
