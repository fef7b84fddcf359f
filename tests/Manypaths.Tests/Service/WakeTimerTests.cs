using System.Collections.Concurrent;
using Manypaths.Service;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Service;

/// <summary>
/// The one timer that wakes every request loop of a service for its hedge or race: a loop is woken at the time it
/// asked for (virtual time), never early, at most one resolution late, and not for a time it has moved past.
/// </summary>
public sealed class WakeTimerTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private sealed class Loop(FakeTimeProvider time) : IWakeable
    {
        public ConcurrentQueue<(int Version, DateTimeOffset At)> Woken { get; } = new();

        public void Due(int version) => Woken.Enqueue((version, time.GetUtcNow()));
    }

    /// <summary>A due time <paramref name="delay"/> from now, as a timestamp.</summary>
    private long In(TimeSpan delay) => _time.GetTimestamp() + Timestamps.Ticks(_time, delay);

    [Fact]
    public void ALoop_IsWokenAtTheTimeItAskedFor_NeverEarly()
    {
        using var timer = new WakeTimer(_time);
        var loop = new Loop(_time);
        var start = _time.GetUtcNow();
        timer.Schedule(loop, 1, In(TimeSpan.FromMilliseconds(100)));
        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Empty(loop.Woken);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([(1, start.AddMilliseconds(100))], loop.Woken);
    }

    [Fact]
    public void ManyLoops_DueWithinOneResolution_AreWokenByOneFiring_AtMostOneResolutionLate()
    {
        using var timer = new WakeTimer(_time);
        var start = _time.GetUtcNow();
        var first = new Loop(_time);
        var close = new Loop(_time);
        var later = new Loop(_time);
        timer.Schedule(first, 1, In(TimeSpan.FromMilliseconds(10)));
        timer.Schedule(close, 1, In(TimeSpan.FromMilliseconds(10.5))); // within a resolution of the first: no re-arm
        timer.Schedule(later, 1, In(TimeSpan.FromMilliseconds(30)));
        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Single(first.Woken);
        Assert.Empty(close.Woken);

        _time.Advance(WakeTimer.Resolution); // the next firing: a resolution after the last one
        var (_, at) = Assert.Single(close.Woken);
        Assert.True(at >= start.AddMilliseconds(10.5) && at <= start.AddMilliseconds(10.5) + WakeTimer.Resolution, $"woken at +{(at - start).TotalMilliseconds} ms");
        Assert.Empty(later.Woken);

        _time.Advance(TimeSpan.FromMilliseconds(30) - (_time.GetUtcNow() - start));
        Assert.Equal([(1, start.AddMilliseconds(30))], later.Woken);
    }

    [Fact]
    public void ALoopThatGetsToSchedulingLate_IsWokenAtTheTimeItWasDue_NotThatMuchLater()
    {
        using var timer = new WakeTimer(_time);
        var loop = new Loop(_time);
        var start = _time.GetUtcNow();
        var due = In(TimeSpan.FromMilliseconds(250)); // the loop works out its race time...
        _time.Advance(TimeSpan.FromMilliseconds(200)); // ...and its thread is held up before it arms the timer
        timer.Schedule(loop, 1, due);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.Equal([(1, start.AddMilliseconds(250))], loop.Woken);

        var late = new Loop(_time);
        var past = In(TimeSpan.FromMilliseconds(10));
        _time.Advance(TimeSpan.FromMilliseconds(20)); // held up past the due time: woken at once
        timer.Schedule(late, 2, past);
        Assert.Equal([(2, start.AddMilliseconds(270))], late.Woken);
    }

    [Fact]
    public void AnEarlierTimeThanTheArmedOne_ReArmsTheTimer_AndAfterDisposeNothingIsWoken()
    {
        var timer = new WakeTimer(_time);
        var start = _time.GetUtcNow();
        var slow = new Loop(_time);
        var fast = new Loop(_time);
        timer.Schedule(slow, 1, In(TimeSpan.FromMilliseconds(250)));
        timer.Schedule(fast, 7, In(TimeSpan.FromMilliseconds(5)));
        _time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal([(7, start.AddMilliseconds(5))], fast.Woken);

        timer.Dispose();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(slow.Woken);
    }
}
