namespace Manypaths.Service;

/// <summary>
/// Caps hedged requests, as gRPC retry throttling and Envoy retry budgets do: a token bucket that every request
/// tops up by <see cref="PerRequest"/> (so hedges stay near that share of requests), with a burst of
/// <see cref="Burst"/> for the onset of a fault. A hedge takes one token; a hedge that loses (the attempt it hedged
/// answered first) costs one more, so hedging backs off by itself when hedges rarely win (a uniformly slow upstream
/// gets about half the share, never double load). Thread-safe.
/// </summary>
internal sealed class HedgeBudget
{
    public const double PerRequest = 0.05;
    public const double Burst = 10;
    private readonly Lock _lock = new();
    private double _tokens = Burst;

    public void RecordRequest()
    {
        lock (_lock)
        {
            _tokens = Math.Min(Burst, _tokens + PerRequest);
        }
    }

    public bool TryTake()
    {
        lock (_lock)
        {
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }

    /// <summary>The hedge did not win: hedging that rarely wins spends the budget twice as fast (into debt if need be).</summary>
    public void Lost()
    {
        lock (_lock)
        {
            _tokens = Math.Max(-Burst, _tokens - 1);
        }
    }

    public double Tokens
    {
        get
        {
            lock (_lock)
            {
                return _tokens;
            }
        }
    }
}
