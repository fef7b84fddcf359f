namespace Manypaths.Mesh;

/// <summary>
/// The rows of the peer link matrix that other nodes reported about their own links (this node's own row is
/// measured, not stored here). Within one boot of the origin the highest sequence wins, so a reordered datagram
/// never replaces a newer row; a new boot replaces the row (the heartbeat gate has checked it is fresh).
/// </summary>
internal sealed class LinkMatrix
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Boot, ulong Seq, Row Row)> _byOrigin = new(StringComparer.Ordinal);

    public readonly record struct Row(IReadOnlyList<LinkReport> Links, DateTimeOffset ReceivedAt);

    public void Update(string origin, long boot, ulong seq, IReadOnlyList<LinkReport> links, DateTimeOffset receivedAt)
    {
        lock (_lock)
        {
            if (_byOrigin.TryGetValue(origin, out var current) && boot == current.Boot && seq <= current.Seq)
            {
                return;
            }

            _byOrigin[origin] = (boot, seq, new Row(links, receivedAt));
        }
    }

    public Row? Get(string origin)
    {
        lock (_lock)
        {
            return _byOrigin.TryGetValue(origin, out var r) ? r.Row : null;
        }
    }
}
