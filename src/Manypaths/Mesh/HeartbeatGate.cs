namespace Manypaths.Mesh;

/// <summary>What the gate made of one heartbeat.</summary>
internal enum GateVerdict
{
    Taken,

    /// <summary>Not newer than one already taken from the peer: replayed or reordered.</summary>
    Stale,

    /// <summary>Sent further from this node's clock than the replay window: a replay, or clocks apart.</summary>
    OutOfWindow,
}

/// <summary>
/// Freshness of one peer's heartbeats. A ping or state part is taken only when it was sent within the replay
/// window (clocks of a cluster agree within it, as relay requests already require) and is newer than the last
/// one taken: within a boot of the peer, a higher sequence number (state parts of one heartbeat share theirs);
/// across boots, a later boot stamp, or an earlier one only once the boot last taken has been quiet for
/// <paramref name="quiet"/> (the peer restarted after its clock was stepped back). So a captured datagram
/// replayed later can neither keep a dead peer "up" nor bring back an old view. Used by the receive loop only,
/// so it needs no lock.
/// </summary>
internal sealed class HeartbeatGate(TimeSpan window, TimeSpan quiet)
{
    private (long Boot, ulong Seq, DateTimeOffset At)? _ping;
    private (long Boot, ulong Seq, DateTimeOffset At)? _state;

    public GateVerdict TakePing(HeartbeatMessage m, DateTimeOffset now) => Take(ref _ping, m, now, sameSeqToo: false);

    public GateVerdict TakeState(HeartbeatMessage m, DateTimeOffset now) => Take(ref _state, m, now, sameSeqToo: true);

    /// <summary>Is this datagram's send time within the replay window of this node's clock?</summary>
    public bool InWindow(HeartbeatMessage m, DateTimeOffset now) =>
        Math.Abs((double)now.ToUnixTimeMilliseconds() - m.SentMs) <= window.TotalMilliseconds;

    private GateVerdict Take(ref (long Boot, ulong Seq, DateTimeOffset At)? last, HeartbeatMessage m, DateTimeOffset now, bool sameSeqToo)
    {
        if (!InWindow(m, now))
        {
            return GateVerdict.OutOfWindow;
        }

        if (last is { } l)
        {
            var older = m.Boot == l.Boot
                ? m.Seq < l.Seq || (m.Seq == l.Seq && !sameSeqToo)
                : m.Boot < l.Boot && now - l.At < quiet;
            if (older)
            {
                return GateVerdict.Stale;
            }
        }

        last = (m.Boot, m.Seq, now);
        return GateVerdict.Taken;
    }
}
