using Manypaths.Tests.Support;

namespace Manypaths.Tests.Integration;

/// <summary>Health probes keep their connection alive by default (half the CPU), or open one per probe on request.</summary>
public sealed class ProbeConnectionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Probes_ReuseOneConnection_UnlessToldToOpenAFreshOneEachTime(bool reuse)
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {up.Url} }}",
            $"health: {{ interval: 400ms, fast_interval: 400ms, timeout: 400ms, reuse_connection: {(reuse ? "true" : "false")} }}");
        await using var node = await ProxyNode.StartAsync(yaml);
        // After the first probes (a cold start may time one out, which closes its connection), count afresh.
        await Eventually.TrueAsync(() => up.Probes >= 3, "three probes");
        var (probes, connections) = (up.Probes, up.ProbeConnections);
        await Eventually.TrueAsync(() => up.Probes >= probes + 6, "six more probes");
        var newConnections = up.ProbeConnections - connections;
        var newProbes = up.Probes - probes;
        if (reuse)
        {
            // Two spare: a probe that times out on a starved machine takes its connection with it, by design
            // (one per probe would be six).
            Assert.InRange(newConnections, 0, 2);
        }
        else
        {
            Assert.True(newConnections >= newProbes - 1, $"{newConnections} new connections for {newProbes} probes");
        }
    }
}
