using Manypaths.Health;
using Manypaths.Routing;

namespace Manypaths.Mesh;

/// <summary>
/// The mesh's side of relaying: for an upstream of a service, every peer's path to it right now, from the link to
/// the peer (UDP heartbeats: up, loss, draining) and the peer's own view of the upstream (its heartbeats). What real
/// relayed traffic says about a path is kept by that path's own health in the service core, not here.
/// </summary>
internal sealed class RelayPaths(MeshNode mesh, IReadOnlyDictionary<string, Uri> peerMesh) : IRelayCandidates
{
    /// <summary>A link losing more than this share of heartbeats is not relayed through.</summary>
    public const double MaxLoss = 0.5;

    public IReadOnlyList<RelayCandidate> For(string service, string upstream)
    {
        var candidates = new List<RelayCandidate>(peerMesh.Count);
        foreach (var (peer, url) in peerMesh)
        {
            var link = mesh.Link(peer);
            var view = mesh.Views.Get(peer, service, upstream);
            var latency = (double.IsNaN(link.RttMs) ? 1 : link.RttMs) + (view?.LatencyMs ?? 0);
            var loss = view is { } v ? 1 - ((1 - link.Loss) * Math.Clamp(v.SuccessRate, 0, 1)) : 1;
            string? why = null;
            var alive = link.State == LinkState.Up && !link.Draining && link.Loss <= MaxLoss;
            if (link.State != LinkState.Up)
            {
                why = $"link to {peer} is {link.State.ToString().ToLowerInvariant()}";
            }
            else if (link.Draining)
            {
                why = $"{peer} is shutting down (draining)";
            }
            else if (link.Loss > MaxLoss)
            {
                why = $"link to {peer} loses {link.Loss:P0} of heartbeats";
            }
            else if (view is null)
            {
                why = $"no view of {upstream} from {peer} yet";
            }
            else if (view.Value.State is not (HealthState.Up or HealthState.Suspect))
            {
                why = $"{peer}'s own path to {upstream} is {view.Value.State.ToString().ToLowerInvariant()}";
            }

            candidates.Add(new RelayCandidate(peer, url, why is null, latency, loss,
                why ?? $"link rtt {link.RttMs:0.0} ms, loss {link.Loss:P0}; {peer} sees {upstream} {view!.Value.State.ToString().ToLowerInvariant()}", alive));
        }

        return candidates;
    }
}
