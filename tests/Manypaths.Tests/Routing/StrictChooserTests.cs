using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Routing;

namespace Manypaths.Tests.Routing;

/// <summary>
/// Role-checked services choose strictly: only an upstream whose check said yes (never one not checked yet), and
/// never a least-bad guess (a connection to a replica that takes writes is worse than a short wait).
/// </summary>
public sealed class StrictChooserTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private static readonly HealthCheckOptions Check = new() { Rise = 1, Fall = 2 };
    private static readonly PassiveHealthOptions Passive = new() { Failures = 3, Eject = TimeSpan.FromSeconds(5) };

    private UpstreamHealth Health(HealthState state)
    {
        var h = new UpstreamHealth(Check, Passive, _time);
        switch (state)
        {
            case HealthState.Up:
                h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
                break;
            case HealthState.Down:
                h.ReportProbe(false, TimeSpan.FromMilliseconds(1), "role: replica", definitive: true);
                break;
            case HealthState.Suspect:
                h.ReportProbe(true, TimeSpan.FromMilliseconds(1), "role: primary");
                h.ReportRequest(RequestOutcome.Timeout, TimeSpan.FromSeconds(1), "slow");
                break;
        }

        Assert.Equal(state, h.State);
        return h;
    }

    private ChooserUpstream U(string name, HealthState state, int weight = 1) => new(name, 0, null, weight, Health(state));

    private PathChooser Chooser(ChooserUpstream[] ups, bool strict, int seed = 1) =>
        new("db", ups, _ => false, (_, _) => new UpstreamHealth(Check, Passive, _time), null, new RelayPolicy(), null, new Random(seed), strict);

    [Fact]
    public void UpstreamsNotCheckedYet_AreNeverPickedByAStrictChooser_ButAreByANonStrictOne()
    {
        var ups = new[] { U("a", HealthState.Unknown), U("b", HealthState.Unknown) };

        Assert.Null(Chooser(ups, strict: true).Next(new AttemptHistory()));
        var loose = Chooser(ups, strict: false).Next(new AttemptHistory());
        Assert.NotNull(loose);
        Assert.Equal(PickReason.Healthy, loose.Reason);
    }

    [Fact]
    public void AStrictChooser_PicksTheCheckedUpstream_NeverTheUncheckedOne_WhateverTheWeights()
    {
        var chooser = Chooser([U("unchecked", HealthState.Unknown, weight: 100), U("primary", HealthState.Up)], strict: true);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, chooser.Next(new AttemptHistory())!.Upstream));
    }

    [Fact]
    public void AStrictChooser_StillUsesASuspectUpstream()
    {
        var choice = Chooser([U("a", HealthState.Down), U("b", HealthState.Suspect)], strict: true).Next(new AttemptHistory());
        Assert.Equal((1, PickReason.Healthy), (choice!.Upstream, choice.Reason));
    }

    [Fact]
    public void WhenNothingIsUpOrSuspect_AStrictChooserReturnsNothing_WhileANonStrictOneGuessesTheLeastBad()
    {
        var ups = new[] { U("a", HealthState.Down), U("b", HealthState.Down), U("c", HealthState.Unknown) };

        Assert.Null(Chooser(ups, strict: true).Next(new AttemptHistory(), allowLeastBad: true));
        Assert.Null(Chooser([U("a", HealthState.Down), U("b", HealthState.Down)], strict: true).Next(new AttemptHistory(), allowLeastBad: true));

        var loose = Chooser([U("a", HealthState.Down), U("b", HealthState.Down)], strict: false).Next(new AttemptHistory(), allowLeastBad: true);
        Assert.NotNull(loose);
        Assert.Equal(PickReason.LeastBad, loose.Reason);
    }

    [Fact]
    public void AStrictChooser_AfterTheOnlyFitUpstreamWasTried_ReturnsNothing()
    {
        var chooser = Chooser([U("replica", HealthState.Down), U("primary", HealthState.Up)], strict: true);
        var history = new AttemptHistory();
        var first = chooser.Next(history)!;
        Assert.Equal(1, first.Upstream);
        history.Add(first.Key);
        Assert.Null(chooser.Next(history));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Avoid_KeepsTheChooserOffThatUpstream(bool strict)
    {
        // A read service's first pass: both fit, but the primary is avoided while a replica is fit.
        var chooser = Chooser([U("primary", HealthState.Up, weight: 100), U("replica", HealthState.Up)], strict);
        Assert.All(Enumerable.Range(0, 50), _ =>
        {
            var history = new AttemptHistory();
            history.Avoid(0);
            Assert.Equal(1, chooser.Next(history)!.Upstream);
        });

        // With the replica tried too, nothing is left: the avoided primary is not picked, not even as the least bad.
        var tried = new AttemptHistory();
        tried.Avoid(0);
        tried.Add(new PathKey(1, null));
        Assert.Null(chooser.Next(tried));
    }

    [Fact]
    public void Avoid_KeepsANonStrictChooserOffThatUpstream_EvenWhenItIsTheOnlyOneUp()
    {
        var chooser = Chooser([U("primary", HealthState.Up), U("replica", HealthState.Down)], strict: false);
        var history = new AttemptHistory();
        history.Avoid(0);
        var choice = chooser.Next(history)!;
        Assert.Equal((1, PickReason.LeastBad), (choice.Upstream, choice.Reason));
    }
}
