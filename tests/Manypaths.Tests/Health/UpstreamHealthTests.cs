using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Health;

public sealed class UpstreamHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private UpstreamHealth Create(int rise = 2, int fall = 2, int failures = 3) =>
        new(new HealthCheckOptions { Rise = rise, Fall = fall }, new PassiveHealthOptions { Failures = failures, Eject = TimeSpan.FromSeconds(5), EjectMax = TimeSpan.FromSeconds(40) }, _time);

    [Fact]
    public void FirstProbe_DecidesImmediately()
    {
        var up = Create();
        up.ReportProbe(true, TimeSpan.FromMilliseconds(3), "status 200");
        Assert.Equal(HealthState.Up, up.State);

        var down = Create();
        down.ReportProbe(false, TimeSpan.Zero, "refused");
        Assert.Equal(HealthState.Down, down.State);
    }

    [Fact]
    public void Up_GoesDownOnlyAfterFallFailures()
    {
        var h = Create(fall: 3);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportProbe(false, TimeSpan.Zero, "503");
        h.ReportProbe(false, TimeSpan.Zero, "503");
        Assert.Equal(HealthState.Up, h.State);
        Assert.True(h.IsChangingState);
        h.ReportProbe(false, TimeSpan.Zero, "503");
        Assert.Equal(HealthState.Down, h.State);
    }

    [Fact]
    public void Down_ComesBackOnlyAfterRiseSuccesses_AndAFailureResetsTheCount()
    {
        var h = Create(rise: 3);
        h.ReportProbe(false, TimeSpan.Zero, "refused");
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportProbe(false, TimeSpan.Zero, "refused");
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        Assert.Equal(HealthState.Down, h.State);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        Assert.Equal(HealthState.Up, h.State);
    }

    [Fact]
    public void ConnectFailure_EjectsAtOnce()
    {
        var h = Create();
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.ConnectFailed, TimeSpan.Zero, "refused");
        Assert.Equal(HealthState.Down, h.State);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(5), h.Snapshot().EjectedUntil);
    }

    [Fact]
    public void SoftFailures_MarkSuspect_ThenEjectAfterConsecutiveFailures()
    {
        var h = Create(failures: 3);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.BadStatus, TimeSpan.Zero, "503");
        Assert.Equal(HealthState.Suspect, h.State);
        h.ReportRequest(RequestOutcome.Timeout, TimeSpan.Zero, "timeout");
        Assert.Equal(HealthState.Suspect, h.State);
        h.ReportRequest(RequestOutcome.Broken, TimeSpan.Zero, "reset");
        Assert.Equal(HealthState.Down, h.State);
    }

    [Fact]
    public void Outpaced_IsAPassiveFailure_SoAStalledPathIsEjectedAfterAFewInARow()
    {
        var h = Create(failures: 3);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.Outpaced, TimeSpan.FromMilliseconds(60), "another path answered first");
        Assert.Equal(HealthState.Suspect, h.State);
        h.ReportRequest(RequestOutcome.Success, TimeSpan.FromMilliseconds(2), "200"); // a success in between clears it
        Assert.Equal(HealthState.Up, h.State);
        for (var i = 0; i < 3; i++)
        {
            h.ReportRequest(RequestOutcome.Outpaced, TimeSpan.FromMilliseconds(60), "another path answered first");
        }

        Assert.Equal(HealthState.Down, h.State);
        Assert.StartsWith("ejected for", h.Snapshot().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ASilentPath_IsOutAtOnce_AndAResetArrivingAfterwards_SaysItsUpstreamDied()
    {
        var h = Create(failures: 3);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.Silent, TimeSpan.FromMilliseconds(130), "no answer for 130 ms");
        Assert.Equal(HealthState.Down, h.State);
        Assert.False(h.Snapshot().DownByAnswer); // dark: the path, as far as we know

        // The killed upstream's kernel resets the connections a moment later: the upstream, not the path, is gone,
        // so its relayed paths wait behind a direct backup (PathChooser) as if the reset had come first.
        h.ReportRequest(RequestOutcome.Broken, TimeSpan.FromMilliseconds(140), "connection reset");
        Assert.True(h.Snapshot().DownByAnswer);
    }

    [Fact]
    public void Success_ClearsSuspicion()
    {
        var h = Create();
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.BadStatus, TimeSpan.Zero, "503");
        h.ReportRequest(RequestOutcome.Success, TimeSpan.FromMilliseconds(2), "200");
        Assert.Equal(HealthState.Up, h.State);
        Assert.Equal(0, h.Snapshot().ConsecutiveFailures);
    }

    [Fact]
    public void Ejected_ProbeSuccessesDuringBackoffDoNotCount_AfterwardsRiseBringsItBack()
    {
        var h = Create(rise: 2);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.ConnectFailed, TimeSpan.Zero, "refused");
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            h.ReportProbe(true, TimeSpan.Zero, "ok");
        }

        Assert.Equal(HealthState.Down, h.State);
        _time.Advance(TimeSpan.FromSeconds(2));
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        Assert.Equal(HealthState.Down, h.State);
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        Assert.Equal(HealthState.Up, h.State);
    }

    /// <summary>
    /// A flapping link (2 s down, 2 s up): a path ejected for its own silence that still fails probes during the
    /// ejection is back only after a whole ejection length with no failed probe, so it does not take traffic in an up
    /// phase and strand the requests in flight at the next down. One that was refused (its upstream died) is not held:
    /// a restarted upstream is back as soon as its ejection ends.
    /// </summary>
    [Fact]
    public void APathEjectedForItsOwnFault_ThatStillFails_ReturnsOnlyAfterAWholeEjectionWithoutAFailure()
    {
        var flapping = Create(rise: 2);
        flapping.ReportProbe(true, TimeSpan.Zero, "ok");
        flapping.ReportRequest(RequestOutcome.Silent, TimeSpan.FromMilliseconds(130), "no answer"); // out for 5 s
        var refused = Create(rise: 2);
        refused.ReportProbe(true, TimeSpan.Zero, "ok");
        refused.ReportRequest(RequestOutcome.Refused, TimeSpan.Zero, "refused"); // out for 5 s

        // 2 s down, 2 s up, probed every second: failures at 1, 2; successes at 3, 4; a failure at 5.
        foreach (var ok in new[] { false, false, true, true, false })
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            flapping.ReportProbe(ok, TimeSpan.Zero, ok ? "ok" : "timeout");
            refused.ReportProbe(ok, TimeSpan.Zero, ok ? "ok" : "refused");
        }

        // 6 s and 7 s: up. The refused one rises; the flapping one failed 1 s ago and stays out until 10 s.
        for (var i = 0; i < 2; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            flapping.ReportProbe(true, TimeSpan.Zero, "ok");
            refused.ReportProbe(true, TimeSpan.Zero, "ok");
        }

        Assert.Equal(HealthState.Up, refused.State);
        Assert.Equal(HealthState.Down, flapping.State);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(3), flapping.Snapshot().EjectedUntil);

        // Quiet until 10 s: then rise brings it back.
        _time.Advance(TimeSpan.FromSeconds(3));
        flapping.ReportProbe(true, TimeSpan.Zero, "ok");
        flapping.ReportProbe(true, TimeSpan.Zero, "ok");
        Assert.Equal(HealthState.Up, flapping.State);
    }

    [Fact]
    public void RepeatedEjections_DoubleTheBackoff_UpToTheMaximum()
    {
        var h = Create(rise: 1);
        var lengths = new List<TimeSpan>();
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        for (var i = 0; i < 5; i++)
        {
            h.ReportRequest(RequestOutcome.ConnectFailed, TimeSpan.Zero, "refused");
            var until = h.Snapshot().EjectedUntil!.Value;
            lengths.Add(until - _time.GetUtcNow());
            _time.Advance(until - _time.GetUtcNow());
            h.ReportProbe(true, TimeSpan.Zero, "ok");
            Assert.Equal(HealthState.Up, h.State);
        }

        Assert.Equal([5, 10, 20, 40, 40], lengths.Select(l => (int)l.TotalSeconds));
    }

    [Fact]
    public void Transitions_AreRaisedWithReason()
    {
        var h = Create();
        var seen = new List<HealthTransition>();
        h.Transitioned += seen.Add;
        h.ReportProbe(true, TimeSpan.Zero, "ok");
        h.ReportRequest(RequestOutcome.ConnectFailed, TimeSpan.Zero, "connection refused");
        Assert.Equal([HealthState.Up, HealthState.Down], seen.Select(t => t.To));
        Assert.Contains("connection refused", seen[1].Reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// The success rate says how lossy the way to the upstream is (a relay is "clearly better" by it): an answer from
    /// the upstream's side is no loss on the way, and loss is forgotten once the path has gone a while without a
    /// failure, however few samples a path that carries only probes gets.
    /// </summary>
    [Fact]
    public void TheSuccessRate_CountsOnlyLossOnTheWay_AndForgetsItAfterTenSecondsWithoutAFailure()
    {
        var h = Create(failures: 10);
        h.ReportProbe(true, TimeSpan.FromMilliseconds(5), "ok");
        h.ReportRequest(RequestOutcome.Broken, TimeSpan.Zero, "connection reset by peer");
        h.ReportRequest(RequestOutcome.BadStatus, TimeSpan.Zero, "status 503");
        Assert.Equal(1, h.Snapshot().SuccessRate);

        for (var i = 0; i < 5; i++)
        {
            h.ReportProbe(i % 2 == 0, TimeSpan.FromMilliseconds(5), i % 2 == 0 ? "ok" : "timeout"); // a flapping link
            _time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.True(h.Snapshot().SuccessRate < 0.9, $"a flap is loss: {h.Snapshot().SuccessRate}");
        for (var i = 0; i < 2; i++) // the last failure was 4 s ago
        {
            h.ReportProbe(true, TimeSpan.FromMilliseconds(5), "ok");
            _time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.True(h.Snapshot().SuccessRate < 0.95, "8 s after the last failure it is still remembered");
        _time.Advance(TimeSpan.FromSeconds(2.5));
        Assert.Equal(1, h.Snapshot().SuccessRate);
        h.ReportRequest(RequestOutcome.Timeout, TimeSpan.FromSeconds(1), "no answer");
        Assert.True(h.Snapshot().SuccessRate < 1, "a new failure brings it back");
    }
}
