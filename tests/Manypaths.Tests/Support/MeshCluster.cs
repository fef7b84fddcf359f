using Manypaths.Config;
using Manypaths.Demo;
using Manypaths.Node;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Manypaths.Tests.Support;

/// <param name="Mesh">The 'mesh:' settings (default: 50 ms heartbeats, dead after 500 ms).</param>
/// <param name="Logs">Where each node logs, by node name (default: nowhere, or the console with MANYPATHS_TEST_LOG).</param>
/// <param name="ShutdownGrace">cluster.shutdown_grace (default 1s).</param>
/// <param name="Root">More top-level YAML, given each node's extra free port (for a per-node 'dns: listen' map, say).</param>
internal sealed record MeshClusterOptions(string? Mesh = null, Func<string, ILoggerFactory>? Logs = null, string ShutdownGrace = "1s",
    Func<IReadOnlyDictionary<string, int>, string>? Root = null);

/// <summary>Several real nodes in one process, one config, each with its own listeners, mesh port and admin API.</summary>
internal sealed class MeshCluster : IAsyncDisposable
{
    private readonly DirectoryInfo _dir;

    private readonly Dictionary<string, NodeHost> _nodes;
    private readonly ManypathsConfig _config;

    private MeshCluster(DirectoryInfo dir, Dictionary<string, NodeHost> nodes, Dictionary<string, int> proxyPorts, Dictionary<string, int> meshPorts, ManypathsConfig config)
    {
        _dir = dir;
        _nodes = nodes;
        _config = config;
        ProxyPorts = proxyPorts;
        MeshPorts = meshPorts;
    }

    public const string Secret = "mesh-test-secret-6b2f";
    public IReadOnlyDictionary<string, NodeHost> Nodes => _nodes;
    public IReadOnlyDictionary<string, int> ProxyPorts { get; }
    public IReadOnlyDictionary<string, int> MeshPorts { get; }

    /// <summary>One more free port per node, for <see cref="MeshClusterOptions.Root"/> (a DNS listen address, say).</summary>
    public IReadOnlyDictionary<string, int> ExtraPorts { get; private init; } = new Dictionary<string, int>();

    /// <summary>The config file every node started from (reload it with NodeHost.ReloadAsync after editing).</summary>
    public string ConfigPath => Path.Combine(_dir.FullName, "manypaths.yaml");

    public string SecretPath => Path.Combine(_dir.FullName, "cluster.key");

    public static Task<MeshCluster> StartAsync(string upstreams, string serviceExtra = "", params string[] names) =>
        StartAsync(upstreams, serviceExtra, new MeshClusterOptions(), names);

    public static async Task<MeshCluster> StartAsync(string upstreams, string serviceExtra, MeshClusterOptions options, params string[] names)
    {
        var (mesh, logs) = (options.Mesh, options.Logs);
        names = names.Length == 0 ? ["n1", "n2", "n3"] : names;
        var dir = Directory.CreateTempSubdirectory("manypaths-mesh-");
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "cluster.key"), Secret);
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), ProxyNode.Token);
        var proxy = names.ToDictionary(n => n, _ => FreePort.Next());
        var meshPorts = names.ToDictionary(n => n, _ => FreePort.Next());
        var extraPorts = names.ToDictionary(n => n, _ => FreePort.Next());
        var nodes = string.Join("\n", names.Select(n => $"  {n}: {{ mesh: http://127.0.0.1:{meshPorts[n]}, admin: http://127.0.0.1:{FreePort.Next()}, region: in-south }}"));
        var listen = string.Join(", ", names.Select(n => $"{n}: 127.0.0.1:{proxy[n]}"));
        var yaml = $"""
            cluster: {"{"} name: mesh, secret_file: cluster.key, admin_token_file: admin.token, shutdown_grace: {options.ShutdownGrace} {"}"}
            mesh: {mesh ?? "{ heartbeat: 50ms, dead_after: 500ms, window: 40 }"}
            nodes:
            {nodes}
            services:
              svc:
                {(serviceExtra.Contains("relay:", StringComparison.Ordinal) ? "" : "relay: true")}
                listen: {"{"} {listen} {"}"}
                upstreams:
            {string.Join("\n", upstreams.Split('\n').Select(l => "      " + l.Trim()))}
            {string.Join("\n", serviceExtra.Split('\n').Where(l => l.Length > 0).Select(l => "    " + l.Trim()))}
            """;
        if (options.Root is { } root)
        {
            yaml += "\n" + root(extraPorts) + "\n";
        }

        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(path, yaml);
        var result = ConfigLoader.LoadFile(path);
        Assert.True(result.Ok, string.Join("\n", result.Errors) + "\n" + yaml);
        var hosts = new Dictionary<string, NodeHost>();
        foreach (var n in names)
        {
            var loggers = logs?.Invoke(n) ?? (Environment.GetEnvironmentVariable("MANYPATHS_TEST_LOG") is { Length: > 0 } ? Cli.Logging.Create(LogLevel.Debug) : NullLoggerFactory.Instance);
            var host = new NodeHost(n, TimeProvider.System, loggers) { HistoryDirectory = Path.Combine(dir.FullName, "state") };
            await host.StartAsync(result.Config!, CancellationToken.None);
            hosts[n] = host;
        }

        return new MeshCluster(dir, hosts, proxy, meshPorts, result.Config!) { ExtraPorts = extraPorts };
    }

    /// <summary>Stops one node and starts it again with an empty memory (as after a crash or a deploy).</summary>
    public async Task RestartAsync(string name)
    {
        await _nodes[name].DisposeAsync();
        var host = new NodeHost(name, TimeProvider.System, NullLoggerFactory.Instance) { HistoryDirectory = Path.Combine(_dir.FullName, "state") };
        await host.StartAsync(_config, CancellationToken.None);
        _nodes[name] = host;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes.Values)
        {
            await n.DisposeAsync();
        }

        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
