namespace Manypaths.Proxy;

/// <summary>
/// Cancels a token source after a delay on the injected clock. On the system clock this is the source's own
/// CancelAfter (no extra timer object on the request path); on a test clock it is that clock's timer.
/// </summary>
internal readonly struct Deadline : IDisposable
{
    private readonly ITimer? _timer;

    private Deadline(ITimer? timer) => _timer = timer;

    public static Deadline Start(CancellationTokenSource source, TimeSpan delay, TimeProvider time)
    {
        if (ReferenceEquals(time, TimeProvider.System))
        {
            source.CancelAfter(delay);
            return default;
        }

        return new Deadline(time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), source, delay, Timeout.InfiniteTimeSpan));
    }

    public void Dispose() => _timer?.Dispose();
}
