using Manypaths.Service;

namespace Manypaths.Tests.Service;

/// <summary>How many connections the standby paths get, and when, in virtual time.</summary>
public sealed class StandbyPolicyTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private int Tick(StandbyPolicy policy, int peak)
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        policy.Observe(peak);
        return policy.TakeDue();
    }

    [Fact]
    public void NoTraffic_WarmsNothing()
    {
        var policy = new StandbyPolicy(_time);
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Equal(0, Tick(policy, 0)));
    }

    [Fact]
    public void TrafficStarting_IsWarmedAtOnce_AsItGrows_ThenRefreshedEveryMinute_AtThePeakSinceTheLastTopUp()
    {
        var policy = new StandbyPolicy(_time);
        Assert.Equal(30, Tick(policy, 10)); // the first second of traffic: warm now (three times the peak), not in 20 s
        Assert.Equal(0, Tick(policy, 11)); // under a quarter more: nothing
        Assert.Equal(150, Tick(policy, 50)); // rose: topped up at once

        var refreshes = new List<(int Second, int Count)>();
        for (var second = 1; second <= 180; second++)
        {
            var count = Tick(policy, second == 90 ? 40 : 30);
            if (count > 0)
            {
                refreshes.Add((second, count));
            }
        }

        // Every minute (pooled connections idle out after 90 s), at the most seen since the last top-up; a rise of a
        // quarter (120 over 90) at once.
        Assert.Equal([(60, 90), (90, 120), (150, 90)], refreshes);
    }

    [Fact]
    public void ARiseSeenWhileATopUpIsUnderWay_IsWarmedWhenItEnds_AndTheRecentFigureLapsesWithoutTraffic()
    {
        var policy = new StandbyPolicy(_time);
        Assert.Equal(12, Tick(policy, 4)); // a top-up of 12 starts and takes a few seconds
        for (var second = 0; second < 3; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            policy.Observe(10); // seen while it runs: not taken
        }

        Assert.Equal(30, policy.TakeDue()); // taken as soon as the warmer is free, not 20 s later
        Assert.Equal(30, policy.Recent);
        _time.Advance(2 * StandbyPolicy.Refresh);
        Assert.Equal(0, policy.Recent); // no top-up for two refreshes: no traffic, no warming of a returning path
    }

    [Fact]
    public void AHugePeak_IsCappedAt256Connections()
    {
        var policy = new StandbyPolicy(_time);
        Assert.Equal(StandbyPolicy.MaxConnections, Tick(policy, 10_000));
        Assert.Equal(256, StandbyPolicy.MaxConnections);
    }
}
