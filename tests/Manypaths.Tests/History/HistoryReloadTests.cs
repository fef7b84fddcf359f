using Manypaths.Tests.Support;

namespace Manypaths.Tests.History;

/// <summary>The history file is opened at start: a reload that changes where or whether history is kept says it takes a restart, and applies the rest.</summary>
public sealed class HistoryReloadTests
{
    [Fact]
    public async Task AReloadChangingTheHistorySettings_SaysItTakesARestart_AndAppliesTheRest()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {a.Url} }}");
        await using var node = await ProxyNode.StartAsync(yaml);
        await File.WriteAllTextAsync(node.ConfigPath, yaml + "    retries: 4\nstatus: { history: false }\n");
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None)).Ok);
        Assert.Equal(4, node.Host.Generation!.Services["svc"].Options.Retry.Retries);
        Assert.Equal("Changed the history settings (status.history, data_dir, retention): this takes a restart of node n1; everything else was reloaded.", node.Host.PendingRestart);
        Assert.NotNull(node.Host.Recorder!.Writer); // still writing where it started
    }
}
