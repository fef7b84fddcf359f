namespace Manypaths.Mesh;

/// <summary>What the gate made of one heartbeat.</summary>
internal enum GateVerdict
{
    Taken,

    /// <summary>Not newer than one already taken from this boot of the peer: replayed or reordered.</summary>
    Stale,

    /// <summary>Sent further from this node's clock than the replay window: a replay, or clocks apart.</summary>
    OutOfWindow,
}

/// <summary>
/// Freshness of one peer's heartbeats: a ping or state part is taken only when it was sent within the replay
/// window (clocks of a cluster agree within it, as relay requests already require) and, within one boot of the
/// peer, carries a higher sequence number than the last one taken (state parts of one heartbeat share theirs).
/// So a captured datagram replayed later can neither keep a dead peer "up" nor bring back an old view. A new
/// boot is taken whenever it is fresh, even with a lower boot stamp (the peer's clock may have been stepped back).
/// Used by the receive loop only, so it needs no lock.
/// </summary>
internal sealed class HeartbeatGate(TimeSpan window)
{
    private (long Boot, ulong Seq)? _ping;
    private (long Boot, ulong Seq)? _state;

    public GateVerdict TakePing(HeartbeatMessage m, DateTimeOffset now) => Take(ref _ping, m, now, sameSeqToo: false);

    public GateVerdict TakeState(HeartbeatMessage m, DateTimeOffset now) => Take(ref _state, m, now, sameSeqToo: true);

    private GateVerdict Take(ref (long Boot, ulong Seq)? last, HeartbeatMessage m, DateTimeOffset now, bool sameSeqToo)
    {
        if (Math.Abs(now.ToUnixTimeMilliseconds() - m.SentMs) > window.TotalMilliseconds)
        {
            return GateVerdict.OutOfWindow;
        }

        if (last is { } l && l.Boot == m.Boot && (m.Seq < l.Seq || (m.Seq == l.Seq && !sameSeqToo)))
        {
            return GateVerdict.Stale;
        }

        last = (m.Boot, m.Seq);
        return GateVerdict.Taken;
    }
}
