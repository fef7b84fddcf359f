using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>
/// The relay mesh across real Linux network namespaces (root, ip netns, veth, nftables): three sites and one
/// upstream; site s1's direct link loses 10% of packets, or is blackholed (and in 'pause' the upstream also stops for
/// 0.4 s three times, longer than every node's probe timeout); every request from s1 must succeed.
/// And the heartbeats measure a lossy link to a peer truthfully.
/// CI machines run as root with these tools (scripts/test installs them), so this never skips.
/// </summary>
[Collection(Heavy.Name)]
public sealed class NetnsRelayTests
{
    [Theory]
    [InlineData("loss")]
    [InlineData("blackhole")]
    [InlineData("pause")] // blackholed, and the upstream paused 0.4 s three times: every path looks down for a moment
    public async Task SiteWithABrokenDirectLink_StillServesEveryRequest_ThroughItsPeers(string mode)
    {
        var script = Path.Combine(Tool.RepoRoot, "tests", "netns", "relay-around-fault.sh");
        var (exit, stdout, stderr) = await Tool.RunAsync("bash", $"\"{script}\" \"{Tool.ManypathsDll}\" {mode} 1000", timeout: TimeSpan.FromMinutes(4));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("1000/1000 requests succeeded", stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// 10% frame loss on the link to one peer, with 300 relay upstreams (9 KB of views per heartbeat): the loss
    /// measured is the link's (about 19% for a ping and its pong), not inflated by IP fragments (about 53% when
    /// the views rode inside the ping, which refused every relay through that peer), and the views get through.
    /// </summary>
    [Fact]
    public async Task LossyLinkToAPeer_IsMeasuredAsItIs_AndThePeersViewsStillArrive()
    {
        var script = Path.Combine(Tool.RepoRoot, "tests", "netns", "peer-link-loss.sh");
        var (exit, stdout, stderr) = await Tool.RunAsync("bash", $"\"{script}\" \"{Tool.ManypathsDll}\"", timeout: TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("views of all 300 upstreams present", stdout, StringComparison.Ordinal);
    }
}
