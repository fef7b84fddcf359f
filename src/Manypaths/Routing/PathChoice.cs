namespace Manypaths.Routing;

/// <summary>
/// What the chooser picked for one attempt: the path, the upstream's tier (a connect race stays in it), why, and
/// for a relayed path the peer's mesh address to send to.
/// </summary>
internal sealed record PathChoice(PathKey Key, int Tier, PickReason Reason, Uri? PeerMesh = null)
{
    public int Upstream => Key.Upstream;

    public string? Peer => Key.Peer;
}
