namespace Manypaths.Proxy;

/// <summary>
/// Cancels a token source after a delay on the injected clock. On the system clock this is the source's own
/// CancelAfter (no extra timer object on the request path); on a test clock it is that clock's timer.
/// </summary>
internal readonly struct Deadline : IDisposable
{
    private readonly CancellationTokenSource? _source;
    private readonly ITimer? _timer;

    private Deadline(CancellationTokenSource? source, ITimer? timer)
    {
        _source = source;
        _timer = timer;
    }

    public static Deadline Start(CancellationTokenSource source, TimeSpan delay, TimeProvider time)
    {
        if (ReferenceEquals(time, TimeProvider.System))
        {
            source.CancelAfter(delay);
            return new Deadline(source, null);
        }

        return new Deadline(null, time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), source, delay, Timeout.InfiniteTimeSpan));
    }

    /// <summary>Stops the clock if it has not run out yet (a source already cancelled stays cancelled).</summary>
    public void Disarm()
    {
        if (_timer is not null)
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _source?.CancelAfter(Timeout.InfiniteTimeSpan); // called while the request (and its source) is alive
        }
    }

    public void Dispose() => _timer?.Dispose();
}
