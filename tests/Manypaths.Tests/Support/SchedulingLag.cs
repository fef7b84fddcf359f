using System.Diagnostics;

namespace Manypaths.Tests.Support;

/// <summary>
/// How late a 10 ms timer ran in this test process, at worst, while a latency test ran: when a latency assertion
/// fails, this says whether the process itself was stalled (thread pool, GC) or the product was slow.
/// </summary>
internal sealed class SchedulingLag : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _ticker;
    private readonly TimeSpan _pause0 = GC.GetTotalPauseDuration();
    private double _worst;

    public SchedulingLag() => _ticker = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            _worst = Math.Max(_worst, Stopwatch.GetElapsedTime(started).TotalMilliseconds - 10);
        }
    });

    public async Task<string> StopAsync()
    {
        await _stop.CancelAsync();
        await _ticker;
        return $"worst scheduling lag {_worst:0} ms, GC pauses {(GC.GetTotalPauseDuration() - _pause0).TotalMilliseconds:0} ms, {ThreadPool.ThreadCount} pool threads";
    }

    public void Dispose() => _stop.Dispose();
}
