namespace Manypaths.Proxy;

/// <summary>
/// Caps retries at <c>ratio</c> of the requests seen in a sliding window plus a floor per second, so a sick
/// cluster is not stampeded by its own retries (Finagle's and Envoy's retry budget). Time from TimeProvider.
/// </summary>
internal sealed class RetryBudget
{
    private const int Buckets = 10;
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _ratio;
    private readonly int _minPerSecond;
    private readonly long[] _requests = new long[Buckets];
    private readonly long[] _retries = new long[Buckets];
    private long _currentSecond;

    public RetryBudget(double ratio, int minPerSecond, TimeProvider time)
    {
        _ratio = ratio;
        _minPerSecond = minPerSecond;
        _time = time;
        _currentSecond = Second();
    }

    public void RecordRequest()
    {
        lock (_lock)
        {
            Roll();
            _requests[_currentSecond % Buckets]++;
        }
    }

    /// <summary>Takes one retry from the budget, or says no.</summary>
    public bool TryWithdraw()
    {
        lock (_lock)
        {
            Roll();
            long requests = 0, retries = 0;
            for (var i = 0; i < Buckets; i++)
            {
                requests += _requests[i];
                retries += _retries[i];
            }

            var allowed = (_ratio * requests) + (_minPerSecond * (double)Buckets);
            if (retries + 1 > allowed)
            {
                return false;
            }

            _retries[_currentSecond % Buckets]++;
            return true;
        }
    }

    private long Second() => _time.GetUtcNow().ToUnixTimeSeconds();

    private void Roll()
    {
        var now = Second();
        if (now <= _currentSecond)
        {
            return;
        }

        var steps = Math.Min(now - _currentSecond, Buckets);
        for (var i = 1; i <= steps; i++)
        {
            var slot = (_currentSecond + i) % Buckets;
            _requests[slot] = 0;
            _retries[slot] = 0;
        }

        _currentSecond = now;
    }
}
