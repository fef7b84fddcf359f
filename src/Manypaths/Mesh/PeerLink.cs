namespace Manypaths.Mesh;

public enum LinkState
{
    Unknown,
    Up,
    Down,
}

/// <param name="Draining">The peer said (in its last ping) that it is shutting down: relay elsewhere.</param>
public readonly record struct LinkSnapshot(LinkState State, double RttMs, double Loss, DateTimeOffset? LastHeard, bool Draining = false);

/// <summary>
/// The health of this node's link to one peer, from UDP pings and pongs: RTT (EWMA) and loss over the last
/// <c>window</c> pings. Pure: fed events, reads time from the injected TimeProvider.
/// </summary>
internal sealed class PeerLink
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly MeshOptions _options;
    private readonly (ulong Seq, long SentTicks, bool Acked)[] _ring;
    private double _rtt = double.NaN;
    private DateTimeOffset? _lastHeard;
    private bool _draining;
    private long _firstHeardTicks = long.MaxValue;
    private readonly DateTimeOffset _created;

    public PeerLink(MeshOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _ring = new (ulong, long, bool)[Math.Max(4, options.Window)];
        _created = time.GetUtcNow();
    }

    public void PingSent(ulong seq)
    {
        lock (_lock)
        {
            _ring[seq % (ulong)_ring.Length] = (seq, _time.GetTimestamp(), false);
        }
    }

    public void PongReceived(ulong seq)
    {
        lock (_lock)
        {
            ref var slot = ref _ring[seq % (ulong)_ring.Length];
            if (slot.Seq != seq || slot.Acked)
            {
                return;
            }

            slot.Acked = true;
            _firstHeardTicks = Math.Min(_firstHeardTicks, slot.SentTicks);
            var rtt = _time.GetElapsedTime(slot.SentTicks).TotalMilliseconds;
            _rtt = double.IsNaN(_rtt) ? rtt : _rtt + (0.2 * (rtt - _rtt));
            _lastHeard = _time.GetUtcNow();
        }
    }

    /// <summary>A ping from the peer arrived; <paramref name="draining"/> is what it said of itself.</summary>
    public void Heard(bool draining = false)
    {
        lock (_lock)
        {
            _lastHeard = _time.GetUtcNow();
            _draining = draining;
        }
    }

    public LinkSnapshot Snapshot()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var nowTicks = _time.GetTimestamp();
            var settled = 0;
            var lost = 0;
            foreach (var p in _ring)
            {
                // Only pings old enough for their pong to have come back count towards loss, and none sent
                // before the peer first answered (a peer that is still starting is down, not lossy).
                if (p.Seq == 0 || p.SentTicks < _firstHeardTicks || _time.GetElapsedTime(p.SentTicks, nowTicks) < _options.DeadAfter)
                {
                    continue;
                }

                settled++;
                lost += p.Acked ? 0 : 1;
            }

            var state = _lastHeard is { } heard
                ? (now - heard <= _options.DeadAfter ? LinkState.Up : LinkState.Down)
                : (now - _created > _options.DeadAfter ? LinkState.Down : LinkState.Unknown);
            return new LinkSnapshot(state, _rtt, settled == 0 ? 0 : (double)lost / settled, _lastHeard, _draining && state == LinkState.Up);
        }
    }
}
