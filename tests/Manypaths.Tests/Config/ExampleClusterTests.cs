using Manypaths.Tests.Support;

namespace Manypaths.Tests.Config;

/// <summary>
/// Every node of every shipped example starts together on one machine, as their headers promise, in a network
/// namespace of its own (root; the examples' fixed ports then never meet another build's).
/// </summary>
[Collection(Heavy.Name)]
public sealed class ExampleClusterTests
{
    [Fact]
    public async Task EveryExample_AllItsNodesStartTogetherOnOneMachine_HearEachOther_AndStopCleanly()
    {
        var script = Path.Combine(Tool.RepoRoot, "tests", "netns", "examples-start.sh");
        var (exit, stdout, stderr) = await Tool.RunAsync("bash", $"\"{script}\" \"{Tool.ManypathsDll}\"", timeout: TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, stdout + stderr);
        foreach (var example in Directory.GetFiles(Path.Combine(Tool.RepoRoot, "examples"), "*.yaml"))
        {
            Assert.Contains($"{Path.GetFileName(example)}: all ", stdout, StringComparison.Ordinal);
        }

        Assert.Contains("three-sites.yaml: all 3 node(s) started together on one machine (blr maa del)", stdout, StringComparison.Ordinal);
    }
}
