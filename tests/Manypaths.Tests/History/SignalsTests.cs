using Manypaths.History;
using Manypaths.Status;

namespace Manypaths.Tests.History;

/// <summary>A status report reduced to signals, and their transitions: failover by tier and by region, relayed, and what is left out.</summary>
public sealed class SignalsTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static UpstreamStatus Up(string name, string state, int tier = 0, string? region = null) =>
        new(name, null, region, tier, 1, state, "", null, 1, null, null, false);

    private static StatusReport Report(params UpstreamStatus[] upstreams) => Report([], upstreams);

    private static StatusReport Report(PathStatus[] relayed, params UpstreamStatus[] upstreams)
    {
        var paths = upstreams.Select(u => new PathStatus(u.Name, null, u.State, null, "")).Concat(relayed).ToList();
        var state = upstreams.Any(u => u.State == "up") || relayed.Any(p => p.State == "up") ? "healthy" : "down";
        return new StatusReport("c", "n1", "eu", At, At, new ConfigStatus(1, At, null, null, null, null),
            [new ServiceStatus("web", "http", null, state, null, upstreams, paths)], [], []);
    }

    private static Dictionary<(string Kind, string Subject), string> Read(StatusReport r) => Signals.Read(r, (_, _) => null);

    [Fact]
    public void Failover_ByTierAndByRegion()
    {
        var primary = Read(Report(Up("a", "up", 0, "eu"), Up("b", "up", 0, "us"), Up("c", "up", 1, "eu")));
        Assert.Equal(("primary", "local"), (primary[("failover", "web")], primary[("region", "web")]));

        var otherRegion = Read(Report(Up("a", "down", 0, "eu"), Up("b", "up", 0, "us"), Up("c", "up", 1, "eu")));
        Assert.Equal(("primary", "us"), (otherRegion[("failover", "web")], otherRegion[("region", "web")]));

        var backup = Read(Report(Up("a", "down", 0, "eu"), Up("b", "down", 0, "us"), Up("c", "up", 1, "eu")));
        Assert.Equal(("tier 1", "local"), (backup[("failover", "web")], backup[("region", "web")]));

        var t = Signals.Diff(primary, otherRegion, At);
        var region = Assert.Single(t);
        Assert.Equal(("region", "web", "local", "us"), (region.Kind, region.Subject, region.From, region.To));
    }

    [Fact]
    public void Relayed_WhenOnlyAPeersPathServes_AndNothingUsable_LeavesFailoverOut()
    {
        var relayed = Read(Report([new PathStatus("a", "n2", "up", 3, "")], Up("a", "down")));
        Assert.Equal(("relayed", "primary"), (relayed[("relayed", "web")], relayed[("failover", "web")]));

        var nothing = Read(Report(Up("a", "down")));
        Assert.Equal("down", nothing[("service", "web")]);
        Assert.False(nothing.ContainsKey(("failover", "web"))); // no transition to "none": the service-down signal says it
        Assert.DoesNotContain(Signals.Diff(relayed, nothing, At), t => t.Kind == "failover");
    }
}
