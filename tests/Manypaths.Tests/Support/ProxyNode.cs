using Manypaths.Config;
using Manypaths.Node;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Manypaths.Tests.Support;

/// <summary>A real node (Kestrel listeners, probers, admin API) started from YAML text in a temp directory.</summary>
internal sealed class ProxyNode : IAsyncDisposable
{
    private readonly DirectoryInfo _dir;

    private ProxyNode(DirectoryInfo dir, NodeHost host, string configPath)
    {
        _dir = dir;
        Host = host;
        ConfigPath = configPath;
    }

    public NodeHost Host { get; }
    public string ConfigPath { get; }
    public string Directory => _dir.FullName;
    public const string Token = "test-admin-token-5f1c";

    public static async Task<ProxyNode> StartAsync(string yaml, string node = "n1", IReadOnlyDictionary<string, string>? files = null, ILoggerFactory? logs = null)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("manypaths-test-");
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, name), content);
        }

        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "admin.token"), Token);
        var path = Path.Combine(dir.FullName, "manypaths.yaml");
        await File.WriteAllTextAsync(path, yaml);
        var result = ConfigLoader.LoadFile(path);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var loggers = logs ?? (Environment.GetEnvironmentVariable("MANYPATHS_TEST_LOG") is { Length: > 0 } ? Manypaths.Cli.Logging.Create(LogLevel.Debug) : NullLoggerFactory.Instance);
        var host = new NodeHost(node, TimeProvider.System, loggers) { HistoryDirectory = Path.Combine(dir.FullName, "state") };
        await host.StartAsync(result.Config!, CancellationToken.None);
        return new ProxyNode(dir, host, path);
    }

    public Uri Admin => Host.AdminUrl!;

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
