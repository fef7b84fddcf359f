namespace Manypaths.Routing;

/// <summary>
/// One peer's path to one upstream, as the mesh sees it now: usable when the link to the peer is up (not lossy, not
/// draining) and the peer's own view of the upstream is up; its cost is the link RTT plus the peer's latency.
/// <paramref name="PeerAlive"/>: the peer itself can carry a request (the link is up, not lossy, not draining), even
/// when its view of the upstream makes the path unusable; such a path may still be the least-bad guess.
/// </summary>
internal sealed record RelayCandidate(string Peer, Uri PeerMesh, bool Usable, double LatencyMs, double Loss, string Why, bool PeerAlive = false);

/// <summary>Where the chooser learns the relayed paths (the mesh in a node, a fake in the chooser's tests).</summary>
internal interface IRelayCandidates
{
    /// <summary>Every peer's path to <paramref name="upstream"/> of <paramref name="service"/>, usable or not.</summary>
    IReadOnlyList<RelayCandidate> For(string service, string upstream);
}
