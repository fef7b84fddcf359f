namespace Manypaths.Service;

/// <summary>Something a <see cref="WakeTimer"/> wakes: it ignores a wake-up for a <paramref name="version"/> it has moved past.</summary>
internal interface IWakeable
{
    void Due(int version);
}

/// <summary>
/// One timer for every request loop of a service: each loop's hedge or race time goes into a queue, and a single
/// timer fires for the soonest, at most every <see cref="Resolution"/>. A timer per request cost a thread wake-up
/// (a futex) each time a request's hedge time was the soonest in the process: 0.35 per request at 15k requests a
/// second on loopback (perf stat; a quarter of that now). A loop is woken at most one resolution late. Thread-safe.
/// </summary>
internal sealed class WakeTimer : IDisposable
{
    /// <summary><see cref="AttemptLoop.MinDelay"/>: no adaptive delay is shorter, so none is made more than twice as long.</summary>
    public static readonly TimeSpan Resolution = AttemptLoop.MinDelay;
    private readonly TimeProvider _time;
    private readonly long _resolutionTicks;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<(IWakeable Target, int Version), long> _queue = new();
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;
    private bool _disposed;

    public WakeTimer(TimeProvider time)
    {
        _time = time;
        _resolutionTicks = Math.Max(1, Timestamps.Ticks(time, Resolution));
        _timer = time.CreateTimer(static s => ((WakeTimer)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Wakes <paramref name="target"/> with <paramref name="version"/> at <paramref name="due"/>, a timestamp of this
    /// timer's clock (an absolute time, so a caller that gets to scheduling late is not woken that much later too).</summary>
    public void Schedule(IWakeable target, int version, long due)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Enqueue((target, version), due);

            // Re-armed only when this is due a resolution before what the timer is set for: a timer that is already
            // about to fire picks it up (at most that late), without another wake-up of the timer thread.
            if (due + _resolutionTicks <= _armedFor || _armedFor == long.MaxValue)
            {
                ArmLocked(due, now);
            }
        }
    }

    private void Fire()
    {
        List<(IWakeable Target, int Version)>? due = null;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _armedFor = long.MaxValue;
            while (_queue.TryPeek(out var entry, out var at) && at <= now)
            {
                _queue.Dequeue();
                (due ??= []).Add(entry);
            }

            if (!_disposed && _queue.TryPeek(out _, out var next))
            {
                ArmLocked(Math.Max(next, now + _resolutionTicks), now);
            }
        }

        if (due is null)
        {
            return;
        }

        foreach (var (target, version) in due)
        {
            target.Due(version);
        }
    }

    private void ArmLocked(long due, long now)
    {
        _armedFor = due;
        var ticks = Math.Max(0, due - now);
        _timer.Change(Timestamps.Span(_time, ticks), Timeout.InfiniteTimeSpan);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }
}
