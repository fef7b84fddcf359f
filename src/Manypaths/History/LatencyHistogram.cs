namespace Manypaths.History;

/// <summary>
/// Latencies in log-spaced buckets (10% apart, 0.1 ms to about 10 min): percentiles within 5% of the truth with a
/// fixed 170 longs, whatever the request rate. Not thread-safe: its owner locks.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Smallest = 0.1;
    private const double Step = 1.1;
    private static readonly double LogStep = Math.Log(Step);
    private readonly long[] _counts = new long[170];

    public long Count { get; private set; }

    public void Add(double ms)
    {
        var i = ms <= Smallest ? 0 : Math.Min(_counts.Length - 1, (int)(Math.Log(ms / Smallest) / LogStep) + 1);
        _counts[i]++;
        Count++;
    }

    /// <summary>The latency under which <paramref name="q"/> (0..1) of the recorded ones fall (a bucket's middle), or null with none.</summary>
    public double? Percentile(double q)
    {
        if (Count == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return i == 0 ? Smallest : Smallest * Math.Pow(Step, i - 0.5);
            }
        }

        return Smallest * Math.Pow(Step, _counts.Length - 1);
    }
}
