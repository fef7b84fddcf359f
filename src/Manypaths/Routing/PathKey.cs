namespace Manypaths.Routing;

/// <summary>One way from this node to one upstream: direct (<see cref="Peer"/> null) or through a peer.</summary>
public readonly record struct PathKey(int Upstream, string? Peer)
{
    public bool Relayed => Peer is not null;

    public override string ToString() => Peer is null ? $"upstream {Upstream} direct" : $"upstream {Upstream} via {Peer}";
}
