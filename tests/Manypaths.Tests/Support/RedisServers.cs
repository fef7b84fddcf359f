using System.Diagnostics;

namespace Manypaths.Tests.Support;

/// <summary>
/// Real redis-server processes (a master and replicas) and, optionally, redis-sentinel processes watching them, on
/// free loopback ports in a temp directory; stopped by PID. Nothing is persisted to disk.
/// </summary>
internal sealed class RedisServers : IAsyncDisposable
{
    public const string MasterName = "mymaster";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-redis-");
    private readonly Dictionary<int, Process> _servers = [];
    private readonly List<Process> _sentinels = [];

    public List<int> Ports { get; } = [];
    public List<int> SentinelPorts { get; } = [];

    public static bool Installed => File.Exists("/usr/bin/redis-server") && File.Exists("/usr/bin/redis-sentinel");

    /// <summary>Starts a master on Ports[0] and <paramref name="replicas"/> replicas of it; waits until they are linked.</summary>
    public static async Task<RedisServers> StartAsync(int replicas, int sentinels = 0)
    {
        Assert.True(Installed, "redis-server and redis-sentinel are needed (scripts/test installs them: apt-get install redis-server redis-sentinel)");
        var r = new RedisServers();
        try
        {
            for (var i = 0; i <= replicas; i++)
            {
                r.Ports.Add(Demo.FreePort.Next());
            }

            for (var i = 0; i <= replicas; i++)
            {
                r.StartServer(r.Ports[i], i == 0 ? null : r.Ports[0]);
            }

            foreach (var port in r.Ports)
            {
                await WaitForPingAsync(port);
            }

            for (var i = 1; i <= replicas; i++)
            {
                var port = r.Ports[i];
                await Eventually.TrueAsync(async () => (await r.InfoAsync(port)).Contains("master_link_status:up", StringComparison.Ordinal), $"replica {port} linked");
            }

            for (var i = 0; i < sentinels; i++)
            {
                r.StartSentinel();
            }

            foreach (var port in r.SentinelPorts)
            {
                await Eventually.TrueAsync(async () =>
                {
                    // Replicas and the other sentinels are discovered (the latter through the hello channel, every 2 s):
                    // a sentinel that knows too few peers cannot reach the quorum, and a failover would wait for it.
                    var info = await TryAsync(port, "SENTINEL", "master", MasterName);
                    var fields = info?.Split('\n') ?? [];
                    string? Field(string name) => Array.IndexOf(fields, name) is >= 0 and var at && at + 1 < fields.Length ? fields[at + 1] : null;
                    return Field("num-slaves") == replicas.ToString(System.Globalization.CultureInfo.InvariantCulture)
                        && Field("num-other-sentinels") == (sentinels - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }, $"sentinel {port} knows the replicas and the other sentinels", TimeSpan.FromSeconds(30));
            }

            return r;
        }
        catch
        {
            await r.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts) a server on <paramref name="port"/>, a replica of <paramref name="master"/> if given.</summary>
    public void StartServer(int port, int? master)
    {
        var args = $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --dir {_dir.FullName} --dbfilename dump-{port}.rdb --logfile {_dir.FullName}/redis-{port}.log";
        if (master is { } m)
        {
            args += $" --replicaof 127.0.0.1 {m}";
        }

        _servers[port] = Start("/usr/bin/redis-server", args);
    }

    private void StartSentinel()
    {
        var port = Demo.FreePort.Next();
        var conf = Path.Combine(_dir.FullName, $"sentinel-{port}.conf");
        File.WriteAllText(conf, $"""
            port {port}
            bind 127.0.0.1
            dir {_dir.FullName}
            logfile {_dir.FullName}/sentinel-{port}.log
            sentinel monitor {MasterName} 127.0.0.1 {Ports[0]} 2
            sentinel down-after-milliseconds {MasterName} 1000
            sentinel failover-timeout {MasterName} 5000
            sentinel parallel-syncs {MasterName} 2

            """);
        SentinelPorts.Add(port);
        _sentinels.Add(Start("/usr/bin/redis-sentinel", conf));
    }

    /// <summary>SIGKILL, by PID: the server dies as a crashed host's would, without a goodbye.</summary>
    public void Kill(int port)
    {
        var p = _servers[port];
        p.Kill();
        p.WaitForExit(5000);
    }

    public async Task<string> InfoAsync(int port) => await TryAsync(port, "INFO", "replication") ?? "";

    /// <summary>The role a server reports now ("master", "slave"), or null when it does not answer.</summary>
    public async Task<string?> RoleAsync(int port)
    {
        var reply = await TryAsync(port, "ROLE");
        return reply?.Split('\n')[0];
    }

    public static async Task<string?> TryAsync(int port, params string[] command)
    {
        try
        {
            using var c = await RespClient.ConnectAsync(port, TimeSpan.FromSeconds(1));
            return await c.CommandAsync(TimeSpan.FromSeconds(1), command);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    public string Log(int port) => File.Exists(Path.Combine(_dir.FullName, $"redis-{port}.log")) ? File.ReadAllText(Path.Combine(_dir.FullName, $"redis-{port}.log")) : "";

    private static async Task WaitForPingAsync(int port) =>
        await Eventually.TrueAsync(async () => await TryAsync(port, "PING") == "+PONG", $"redis on {port} answers PING");

    private static Process Start(string file, string args)
    {
        var info = new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        var p = Process.Start(info)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var p in _servers.Values.Concat(_sentinels))
        {
            Tool.Stop(p);
        }

        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
