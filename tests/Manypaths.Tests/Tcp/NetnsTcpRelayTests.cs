using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Tcp;

/// <summary>
/// Relayed TCP across real Linux network namespaces (root, ip netns, veth, nftables): a Redis server in the upstream
/// namespace, three sites with the defaults of a redis-primary write service and relay: true. Site s1's direct link
/// to Redis is blackholed while a client writes through s1: after the first write through a peer none fails, and
/// every acknowledged write is in Redis. CI machines run as root with these tools (scripts/test installs them).
/// </summary>
[Collection(Heavy.Name)]
public sealed class NetnsTcpRelayTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BlackholedDirectLinkToRedis_WritesGoOnThroughAPeer_NoneFailsAfterTheSwitch()
    {
        var script = Path.Combine(Tool.RepoRoot, "tests", "netns", "tcp-relay-around-fault.sh");
        var (exit, stdout, stderr) = await Tool.RunAsync("bash", $"\"{script}\" \"{Tool.ManypathsDll}\" 1500", timeout: TimeSpan.FromMinutes(4));
        var summary = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("netns tcp", StringComparison.Ordinal)) ?? "";
        output.WriteLine($"[report] {summary}");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("0 failed after the first write through a peer", stdout, StringComparison.Ordinal);
        Assert.Contains("0 acknowledged keys missing", stdout, StringComparison.Ordinal);
    }
}
