using Manypaths.Config;
using Manypaths.Health;

namespace Manypaths.Tests.Health;

/// <summary>
/// A role answer is definitive (a replica that answers "replica" is out at once, whatever 'fall' says); a check that
/// got no answer still counts against 'fall'.
/// </summary>
public sealed class DefinitiveProbeTests
{
    private readonly FakeTimeProvider _time = new();

    private UpstreamHealth Create(int rise = 1, int fall = 2) =>
        new(new HealthCheckOptions { Rise = rise, Fall = fall }, new PassiveHealthOptions { Failures = 3, Eject = TimeSpan.FromSeconds(5), EjectMax = TimeSpan.FromSeconds(40) }, _time);

    [Fact]
    public void ADefinitiveFailedCheck_TakesAnUpUpstreamDownAtOnce_DespiteFall()
    {
        var h = Create(fall: 2);
        var seen = new List<HealthTransition>();
        h.Transitioned += seen.Add;
        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");

        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica of 10.250.0.2:6379", definitive: true);

        Assert.Equal(HealthState.Down, h.State);
        Assert.Equal([HealthState.Up, HealthState.Down], seen.Select(t => t.To));
        Assert.Contains("role: replica of 10.250.0.2:6379", seen[1].Reason, StringComparison.Ordinal);
        Assert.Contains("role: replica of 10.250.0.2:6379", h.Snapshot().Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ANonDefinitiveFailedCheck_NeedsFallFailuresInARow()
    {
        var h = Create(fall: 2);
        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");

        h.ReportProbe(false, TimeSpan.Zero, "timeout after 200 ms");
        Assert.Equal(HealthState.Up, h.State);
        Assert.True(h.IsChangingState);

        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary"); // an answer in between resets the count
        h.ReportProbe(false, TimeSpan.Zero, "timeout after 200 ms");
        Assert.Equal(HealthState.Up, h.State);

        h.ReportProbe(false, TimeSpan.Zero, "timeout after 200 ms");
        Assert.Equal(HealthState.Down, h.State);
    }

    [Fact]
    public void AMissedAnswerThenADefinitiveOne_IsDownAtTheDefinitiveOne()
    {
        var h = Create(fall: 3);
        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
        h.ReportProbe(false, TimeSpan.Zero, "timeout after 200 ms");
        Assert.Equal(HealthState.Up, h.State);
        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
        Assert.Equal(HealthState.Down, h.State);
    }

    [Fact]
    public void ADefinitiveFailedCheck_TakesASuspectUpstreamDownAtOnce()
    {
        var h = Create(fall: 2);
        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
        h.ReportRequest(RequestOutcome.Timeout, TimeSpan.FromSeconds(1), "slow");
        Assert.Equal(HealthState.Suspect, h.State);

        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
        Assert.Equal(HealthState.Down, h.State);
    }

    [Fact]
    public void APromotedReplica_IsUpAtItsFirstPrimaryAnswer_WithTheRoleCheckRiseOf1()
    {
        var h = Create(rise: 1, fall: 2);
        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
        Assert.Equal(HealthState.Down, h.State);

        h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
        Assert.Equal(HealthState.Up, h.State);
    }

    [Fact]
    public void ADefinitiveFailedCheck_OfAnUpstreamAlreadyDown_RaisesNoTransition()
    {
        var h = Create(fall: 2);
        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
        Assert.Equal(HealthState.Down, h.State);
        var seen = new List<HealthTransition>();
        h.Transitioned += seen.Add;

        h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
        Assert.Equal(HealthState.Down, h.State);
        Assert.Empty(seen);
    }
}
