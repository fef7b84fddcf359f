using Manypaths.Health;
using Manypaths.Routing;

namespace Manypaths.Tests.Routing;

public sealed class UpstreamSelectorTests
{
    private static readonly IReadOnlySet<int> None = new HashSet<int>();

    private static UpstreamView U(int tier = 0, string? region = null, int weight = 1, HealthState state = HealthState.Up, double latency = double.NaN, bool drained = false, int failures = 0) =>
        new(tier, region, weight, drained, new HealthSnapshot(state, latency, 1, failures, null, "", null));

    private static UpstreamSelector Selector(string? region = null, int seed = 1) => new(region, new RegionPreference(), new Random(seed));

    [Fact]
    public void Tier_LowestTierWithAHealthyUpstreamWins()
    {
        var ups = new[] { U(tier: 1), U(tier: 0, state: HealthState.Down), U(tier: 0) };
        Assert.Equal(2, Selector().Select(ups, None, true).Index);
    }

    [Fact]
    public void Tier_BackupServesWhenEveryPrimaryIsDown()
    {
        var ups = new[] { U(tier: 0, state: HealthState.Down), U(tier: 0, state: HealthState.Down), U(tier: 1) };
        var pick = Selector().Select(ups, None, true);
        Assert.Equal((2, PickReason.Healthy), (pick.Index, pick.Reason));
    }

    [Fact]
    public void Region_OwnRegionOutranksWeightAndLatency()
    {
        var ups = new[] { U(region: "us-east", weight: 100, latency: 1), U(region: "in-south", weight: 1, latency: 200) };
        var selector = Selector("in-south");
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(1, selector.Select(ups, None, true).Index);
        }
    }

    [Fact]
    public void Region_WithoutOwnRegion_PrefersLowestLatencyRegion()
    {
        var ups = new[] { U(region: "eu-west", latency: 150), U(region: "us-east", latency: 40), U(region: "us-east", latency: 60) };
        var selector = Selector("in-south");
        for (var i = 0; i < 50; i++)
        {
            Assert.NotEqual(0, selector.Select(ups, None, true).Index);
        }
    }

    [Fact]
    public void Region_CrossesOnlyWhenPreferredRegionHasNothingHealthy()
    {
        var ups = new[] { U(region: "us-east", latency: 40, state: HealthState.Down), U(region: "eu-west", latency: 150) };
        Assert.Equal(1, Selector("in-south").Select(ups, None, true).Index);
    }

    [Fact]
    public void Region_Hysteresis_DoesNotFlapOnSmallLatencyDifferences()
    {
        var pref = new RegionPreference();
        var selector = new UpstreamSelector("in-south", pref, new Random(1));
        Assert.Equal(0, selector.Select([U(region: "a", latency: 50), U(region: "b", latency: 60)], None, true).Index);
        Assert.Equal(0, selector.Select([U(region: "a", latency: 55), U(region: "b", latency: 50)], None, true).Index);
        Assert.Equal(1, selector.Select([U(region: "a", latency: 100), U(region: "b", latency: 50)], None, true).Index);
    }

    [Fact]
    public void Weights_SplitTrafficProportionally()
    {
        var ups = new[] { U(weight: 3), U(weight: 1) };
        var selector = Selector(seed: 42);
        var counts = new int[2];
        for (var i = 0; i < 4000; i++)
        {
            counts[selector.Select(ups, None, true).Index]++;
        }

        Assert.InRange(counts[0] / 4000.0, 0.72, 0.78);
    }

    [Fact]
    public void Suspect_IsUsedOnlyWhenNoUpUpstreamRemains()
    {
        var ups = new[] { U(state: HealthState.Suspect, weight: 100), U(state: HealthState.Up) };
        Assert.Equal(1, Selector().Select(ups, None, true).Index);
        Assert.Equal(0, Selector().Select(ups, new HashSet<int> { 1 }, true).Index);
    }

    [Fact]
    public void Drained_AndTried_AreNeverPicked()
    {
        var ups = new[] { U(drained: true), U(), U() };
        var pick = Selector().Select(ups, new HashSet<int> { 1 }, true);
        Assert.Equal(2, pick.Index);
        Assert.False(Selector().Select(ups, new HashSet<int> { 1, 2 }, true).Found);
    }

    [Fact]
    public void NothingHealthy_LeastBadOnlyWhenAllowed()
    {
        var ups = new[] { U(state: HealthState.Down, failures: 5), U(state: HealthState.Down, failures: 1) };
        var pick = Selector().Select(ups, None, allowLeastBad: true);
        Assert.Equal((1, PickReason.LeastBad), (pick.Index, pick.Reason));
        Assert.False(Selector().Select(ups, None, allowLeastBad: false).Found);
    }

    [Fact]
    public void Relay_ToAPrimary_BeatsADirectBackup_ByDefault_ButNotWhenThePolicySaysNo()
    {
        var ups = new[] { U(tier: 0, state: HealthState.Down), U(tier: 1) };
        var byDefault = Selector().Select(ups, None, true, relayable: i => i == 0);
        Assert.Equal((0, PickReason.Relayed), (byDefault.Index, byDefault.Reason));
        var directFirst = Selector().Select(ups, None, true, relayable: i => i == 0, relayBeatsLowerTier: false);
        Assert.Equal((1, PickReason.Healthy), (directFirst.Index, directFirst.Reason));
    }

    [Fact]
    public void Relay_IsNotUsedWhileTheTierHasAWorkingDirectPath()
    {
        var ups = new[] { U(tier: 0, state: HealthState.Down), U(tier: 0) };
        var pick = Selector().Select(ups, None, true, relayable: _ => true);
        Assert.Equal((1, PickReason.Healthy), (pick.Index, pick.Reason));
    }
}
