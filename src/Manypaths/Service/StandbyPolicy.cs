namespace Manypaths.Service;

/// <summary>
/// How many connections a service keeps ready on its standby paths, and when to top them up. The figure is twice the
/// most requests this node had in flight for the service at once since the last top-up, at most
/// <see cref="MaxConnections"/>: a failover moves the requests in flight at once, and new ones keep arriving while
/// those are still out (measured at 250 ms round trips: once the peak alone, 170 requests still waited for connects). A top-up is due when that figure grew by a quarter over the last
/// one (traffic started or rose: warm now, not a refresh later), or every <see cref="Refresh"/> while there is
/// traffic (pooled connections idle out after 30 s). No traffic, no warming.
/// </summary>
internal sealed class StandbyPolicy(TimeProvider time)
{
    public const int MaxConnections = 128;
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(20);

    private int _peak;
    private int _warmed;
    private long _warmedAt;

    /// <summary>The figure of the last top-up (0: none yet), for a path that needs warming between top-ups.</summary>
    public int Current => _warmed;

    /// <summary>Called every tick with the largest in-flight count seen since the previous tick.</summary>
    /// <returns>How many connections to make ready on each standby path now, or 0.</returns>
    public int Due(int peakSinceLastTick)
    {
        _peak = Math.Max(_peak, Math.Min(2 * peakSinceLastTick, MaxConnections));
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
}
