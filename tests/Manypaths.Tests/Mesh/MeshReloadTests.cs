using System.Text.Json;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>What a reload (SIGHUP) does to the mesh: it rotates the peer secret, and says what needs a restart.</summary>
public sealed class MeshReloadTests
{
    [Fact]
    public async Task SecretRotation_TakesEffectOnReload_ANodeWithoutTheNewSecretStopsTrustingItsPeer()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", "n1", "n2");
        var (n1, n2) = (cluster.Nodes["n1"], cluster.Nodes["n2"]);
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").State == LinkState.Up && n2.Mesh!.Link("n1").State == LinkState.Up, "linked");

        // The new secret signs on n1 once n1 reloads; n2 has not reloaded, so it cannot verify n1 any more.
        await File.WriteAllTextAsync(cluster.SecretPath, "the-new-secret\n" + MeshCluster.Secret + "\n");
        Assert.True((await n1.ReloadAsync(cluster.ConfigPath, CancellationToken.None)).Ok);
        await Eventually.TrueAsync(() => n2.Mesh!.Link("n1").State == LinkState.Down, "n2 drops n1's newly signed heartbeats");

        Assert.True((await n2.ReloadAsync(cluster.ConfigPath, CancellationToken.None)).Ok);
        await Eventually.TrueAsync(() => n2.Mesh!.Link("n1").State == LinkState.Up && n1.Mesh!.Link("n2").State == LinkState.Up, "both on the new secret");
        Assert.Null(n1.LastReloadError);
    }

    [Fact]
    public async Task SecretRotation_TheDocumentedThreeSteps_NeverCutALink()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", "n1", "n2");
        var (n1, n2) = (cluster.Nodes["n1"], cluster.Nodes["n2"]);
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").State == LinkState.Up && n2.Mesh!.Link("n1").State == LinkState.Up, "linked");

        // docs/design/relay-mesh.md: new secret on the second line everywhere, then on the first, then drop the
        // old one; each node reloads on its own, and after every single reload both still verify each other.
        foreach (var secretFile in new[]
        {
            MeshCluster.Secret + "\nthe-new-secret\n",
            "the-new-secret\n" + MeshCluster.Secret + "\n",
            "the-new-secret\n",
        })
        {
            await File.WriteAllTextAsync(cluster.SecretPath, secretFile);
            foreach (var node in new[] { n1, n2 })
            {
                Assert.True((await node.ReloadAsync(cluster.ConfigPath, CancellationToken.None)).Ok);
                Assert.Null(node.LastReloadError);
                var reloaded = TimeProvider.System.GetUtcNow(); // the nodes run on the system clock
                await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").LastHeard > reloaded && n2.Mesh!.Link("n1").LastHeard > reloaded,
                    $"both nodes still hear each other after {node.NodeName} reloaded with \"{secretFile.Replace("\n", " | ", StringComparison.Ordinal)}\"");
            }
        }
    }

    [Fact]
    public async Task EmptySecretFileOnReload_IsRefused_AndTheOldSecretKeepsWorking()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", "n1", "n2");
        var (n1, n2) = (cluster.Nodes["n1"], cluster.Nodes["n2"]);
        await Eventually.TrueAsync(() => n1.Mesh!.Link("n2").State == LinkState.Up, "linked");
        await File.WriteAllTextAsync(cluster.SecretPath, "\n");
        await n1.ReloadAsync(cluster.ConfigPath, CancellationToken.None);
        Assert.Contains("secret file is empty", n1.LastReloadError, StringComparison.Ordinal);
        var heard = n2.Mesh!.Link("n1").LastHeard;
        await Eventually.TrueAsync(() => n2.Mesh.Link("n1").LastHeard > heard, "n2 still hears n1 on the old secret");
    }

    [Fact]
    public async Task ReloadChangingMeshSettings_AppliesTheRest_AndSaysARestartIsNeeded()
    {
        await using var up = await TestUpstream.StartAsync("u1");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: u1, url: {up.Url} }}", "", "n1", "n2");
        var n1 = cluster.Nodes["n1"];
        var before = n1.Generation!.Number;
        var yaml = await File.ReadAllTextAsync(cluster.ConfigPath);
        await File.WriteAllTextAsync(cluster.ConfigPath, yaml.Replace("heartbeat: 50ms", "heartbeat: 70ms", StringComparison.Ordinal) + "    retries: 4\n");
        Assert.True((await n1.ReloadAsync(cluster.ConfigPath, CancellationToken.None)).Ok);

        Assert.Equal(before + 1, n1.Generation!.Number);
        Assert.Equal(4, n1.Generation.Services["svc"].Options.Retry.Retries); // the service change is live
        using var client = new HttpClient();
        using var doc = JsonDocument.Parse(await client.GetStringAsync(new Uri(n1.AdminUrl!, "api/status")));
        var pending = doc.RootElement.GetProperty("config").GetProperty("pending_restart").GetString();
        Assert.Equal("Changed the mesh settings: this takes a restart of node n1; everything else was reloaded.", pending);

        // Putting the old mesh settings back clears it.
        await File.WriteAllTextAsync(cluster.ConfigPath, yaml);
        Assert.True((await n1.ReloadAsync(cluster.ConfigPath, CancellationToken.None)).Ok);
        Assert.Null(n1.PendingRestart);
    }
}
