using Manypaths.Alerts;
using Manypaths.Config;
using Manypaths.History;

namespace Manypaths.Tests.History;

/// <summary>Damping and grouping of alerts on the caller's clock: hold, flips within the hold, service down at once, groups, and the dedupe key.</summary>
public sealed class AlertPipelineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly AlertOptions Defaults = new();

    private static Transition T(double s, string kind, string subject, string from, string to) => new(T0.AddSeconds(s), kind, subject, from, to);

    /// <summary>Ticks every 250 ms from <paramref name="from"/> to <paramref name="to"/> seconds; every group released, with when.</summary>
    private static List<(double At, List<AlertEvent> Events)> Run(AlertPipeline p, double from, double to)
    {
        var groups = new List<(double, List<AlertEvent>)>();
        for (var s = from; s <= to; s += 0.25)
        {
            if (p.Tick(T0.AddSeconds(s)) is { } g)
            {
                groups.Add((s, g));
            }
        }

        return groups;
    }

    [Fact]
    public void ANewState_IsAnnouncedOnlyAfterTheHold_AndWithinTenSecondsWithTheDefaults()
    {
        var p = new AlertPipeline(Defaults, "c");
        p.Add(T(0, "upstream", "web/a", "up", "down"));
        Assert.Empty(Run(p, 0, 4.75)); // held 5 s
        var (at, events) = Assert.Single(Run(p, 5, 20));
        Assert.Equal(7, at); // 5 s hold + 2 s group
        var e = Assert.Single(events);
        Assert.Equal(("upstream", "web/a", "up", "down"), (e.Kind, e.Subject, e.From, e.To));
    }

    [Fact]
    public void AFlipBackWithinTheHold_IsNeverAnnounced()
    {
        var p = new AlertPipeline(Defaults, "c");
        p.Add(T(0, "link", "a>b", "up", "down"));
        Assert.Empty(Run(p, 0, 3));
        p.Add(T(3, "link", "a>b", "down", "up"));
        Assert.Empty(Run(p, 3, 30));
    }

    [Fact]
    public void AServiceGoingDown_SkipsTheHold_ItsRecoveryDoesNot()
    {
        var p = new AlertPipeline(Defaults, "c");
        p.Add(T(0, "service", "web", "up", "down"));
        var (at, down) = Assert.Single(Run(p, 0, 4));
        Assert.Equal(2, at); // the group window only
        Assert.Equal("down", Assert.Single(down).To);

        p.Add(T(10, "service", "web", "down", "up"));
        var (upAt, up) = Assert.Single(Run(p, 10, 30));
        Assert.Equal(17, upAt);
        Assert.Equal(("down", "up"), (Assert.Single(up).From, up[0].To));
    }

    [Fact]
    public void ABurst_GoesOutAsOneAlert()
    {
        var p = new AlertPipeline(Defaults, "c");
        p.Add(T(0, "service", "web", "up", "down"));
        p.Add(T(0, "service", "api", "up", "down"));
        p.Add(T(1, "service", "db", "up", "down"));
        var (_, events) = Assert.Single(Run(p, 0, 10));
        Assert.Equal(["api", "db", "web"], events.Select(e => e.Subject).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheDedupeKey_NamesTheEventNotTheTime_SoTwoNodesSendTheSameKey()
    {
        var here = new AlertPipeline(Defaults, "c");
        var there = new AlertPipeline(Defaults, "c");
        here.Add(T(0, "upstream", "web/a", "up", "down"));
        there.Add(T(1.7, "upstream", "web/a", "up", "down"));
        var a = Assert.Single(Assert.Single(Run(here, 0, 20)).Events);
        var b = Assert.Single(Assert.Single(Run(there, 0, 20)).Events);
        Assert.Equal(a.Key, b.Key);
        Assert.NotEqual(a.Key, AlertEvent.KeyOf("c", "upstream", "web/a", "up"));
        Assert.NotEqual(a.Key, AlertEvent.KeyOf("other-cluster", "upstream", "web/a", "down"));
    }

    [Fact]
    public void AReloadWithNewTimes_KeepsWhatWasAnnounced()
    {
        var p = new AlertPipeline(Defaults, "c");
        p.Add(T(0, "upstream", "web/a", "up", "down"));
        Assert.Single(Run(p, 0, 10));
        var q = p.With(new AlertOptions { Hold = TimeSpan.Zero, Group = TimeSpan.Zero });
        q.Add(T(11, "upstream", "web/a", "down", "up"));
        var (at, events) = Assert.Single(Run(q, 11, 20));
        Assert.Equal(11, at);
        Assert.Equal(("down", "up"), (events[0].From, events[0].To));
    }
}
