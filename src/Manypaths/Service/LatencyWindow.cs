namespace Manypaths.Service;

/// <summary>
/// The last <see cref="Size"/> latencies of one path (time to first byte, or to connect), and a quantile of them:
/// what the adaptive delays follow, so the same defaults hold at 0.1 ms and at 250 ms round trips. The quantile is
/// recomputed at most every <see cref="Recompute"/> samples (a sort of 128 doubles), so reading it is cheap.
/// </summary>
internal sealed class LatencyWindow
{
    public const int Size = 128;
    private const int Recompute = 8;
    private readonly Lock _lock = new();
    private readonly double[] _samples = new double[Size];
    private readonly double _quantile;
    private int _count;
    private int _next;
    private int _sinceSorted = int.MaxValue;
    private double _cached = double.NaN;
    private long _lastAt = long.MinValue;

    public LatencyWindow(double quantile = 0.95) => _quantile = quantile;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>When the newest sample arrived (a TimeProvider timestamp), or null if no sample said when.</summary>
    public long? LastAt
    {
        get
        {
            lock (_lock)
            {
                return _lastAt == long.MinValue ? null : _lastAt;
            }
        }
    }

    /// <param name="at">When it arrived (a TimeProvider timestamp): what silence detection measures from.</param>
    public void Add(TimeSpan latency, long? at = null)
    {
        lock (_lock)
        {
            if (at is { } when)
            {
                _lastAt = when;
            }

            _samples[_next] = latency.TotalMilliseconds;
            _next = (_next + 1) % Size;
            _count = Math.Min(_count + 1, Size);
            _sinceSorted++;
        }
    }

    /// <summary>The quantile in milliseconds, or NaN before the first sample.</summary>
    public double QuantileMs
    {
        get
        {
            lock (_lock)
            {
                if (_count == 0)
                {
                    return double.NaN;
                }

                if (_sinceSorted >= Recompute || double.IsNaN(_cached))
                {
                    Span<double> sorted = stackalloc double[_count];
                    _samples.AsSpan(0, _count).CopyTo(sorted);
                    sorted.Sort();
                    _cached = sorted[Math.Min(_count - 1, (int)Math.Ceiling(_quantile * _count) - 1)];
                    _sinceSorted = 0;
                }

                return _cached;
            }
        }
    }
}
