using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>
/// The relay mesh across real Linux network namespaces (root, ip netns, veth, nftables): three sites and one
/// upstream; site s1's direct link loses 10% of packets, or is blackholed; every request from s1 must succeed.
/// CI machines run as root with these tools (scripts/test installs them), so this never skips.
/// </summary>
[Collection(Heavy.Name)]
public sealed class NetnsRelayTests
{
    [Theory]
    [InlineData("loss")]
    [InlineData("blackhole")]
    public async Task SiteWithABrokenDirectLink_StillServesEveryRequest_ThroughItsPeers(string mode)
    {
        var script = Path.Combine(Tool.RepoRoot, "tests", "netns", "relay-around-fault.sh");
        var (exit, stdout, stderr) = await Tool.RunAsync("bash", $"\"{script}\" \"{Tool.ManypathsDll}\" {mode} 1000", timeout: TimeSpan.FromMinutes(4));
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("1000/1000 requests succeeded", stdout, StringComparison.Ordinal);
    }
}
