namespace Manypaths.Service;

/// <summary>
/// How many connections a service keeps ready on its standby paths, and when to top them up. The figure is three times
/// the most requests this node had in flight for the service at once since the last top-up, at most
/// <see cref="MaxConnections"/>: a failover moves the requests in flight at once (and those sent before the path was
/// judged), and new ones keep arriving while those are still out on the slower path (measured at 250 ms round trips:
/// with the peak alone, 170 requests still waited for connects; with twice the peak, 106 connections, a rescue of 75
/// requests and the 30 that followed it used them up and the next 28 paid a connect to the peer).
/// A top-up is due when that figure grew by a quarter over the last one (traffic started or rose: warm now, not at
/// the next refresh), or every <see cref="Refresh"/> while there is traffic (pooled connections idle out after 90 s;
/// nginx closes idle keep-alive connections after 75 s). Not more often: a top-up holds the connections it warms for
/// a round trip, and a failover in that moment finds them busy (measured: a 20 s refresh that fell on a blackhole's
/// onset, seen in its log, had a p99 of 610 ms).
/// No traffic, no warming. Peaks are observed every tick; a top-up is taken only when the last one has finished, so
/// a rise seen while one is under way is not lost.
/// </summary>
internal sealed class StandbyPolicy(TimeProvider time)
{
    public const int MaxConnections = 256;
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(60);

    private int _peak;
    private int _warmed;
    private long _warmedAt;

    /// <summary>The largest in-flight count seen since the previous tick.</summary>
    public void Observe(int peakSinceLastTick) => _peak = Math.Max(_peak, Math.Min(3 * peakSinceLastTick, MaxConnections));

    /// <summary>How many connections to make ready on each standby path now (and count it as done), or 0.</summary>
    public int TakeDue()
    {
        if (_peak == 0)
        {
            return 0;
        }

        var grew = _peak > _warmed + (_warmed / 4);
        if (!grew && time.GetElapsedTime(_warmedAt) < Refresh)
        {
            return 0;
        }

        var count = _peak;
        _warmed = count;
        _warmedAt = time.GetTimestamp();
        _peak = 0;
        return count;
    }

    /// <summary>The figure of the last top-up while traffic is recent (a top-up within two refreshes), else 0: for a
    /// direct path coming back between top-ups.</summary>
    public int Recent => _warmed > 0 && time.GetElapsedTime(_warmedAt) < 2 * Refresh ? _warmed : 0;
}
