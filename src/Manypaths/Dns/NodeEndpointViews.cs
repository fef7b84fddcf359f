using Manypaths.Health;
using Manypaths.Mesh;

namespace Manypaths.Dns;

/// <summary>
/// The live views of an upstream: this node's direct path health (its live generation) and what each peer whose link
/// is up last said about its own direct path (heartbeats). A peer not heard, or that has not probed yet, is left out.
/// </summary>
internal sealed class NodeEndpointViews(string self, Func<Node.NodeGeneration?> generation, Func<MeshNode?> mesh) : IEndpointViews
{
    public IReadOnlyList<(string Node, bool Healthy)> Views(string service, string upstream)
    {
        var list = new List<(string, bool)>(4);
        var core = generation()?.Services.GetValueOrDefault(service);
        var local = core?.Upstreams.FirstOrDefault(u => u.Name == upstream)?.Health.State;
        if (local is { } state && state != HealthState.Unknown)
        {
            list.Add((self, state is HealthState.Up or HealthState.Suspect));
        }

        if (mesh() is { } m)
        {
            foreach (var peer in m.Peers)
            {
                if (m.Link(peer).State == LinkState.Up && m.Views.Get(peer, service, upstream) is { } view && view.State != HealthState.Unknown)
                {
                    list.Add((peer, view.State is HealthState.Up or HealthState.Suspect));
                }
            }
        }

        return list;
    }

    public double LatencyMs(string service, string upstream) =>
        generation()?.Services.GetValueOrDefault(service)?.Upstreams.FirstOrDefault(u => u.Name == upstream)?.Health.Snapshot().LatencyMs ?? double.NaN;
}
