using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Manypaths.Tests.Support;

/// <summary>
/// Real PostgreSQL 15 servers on free loopback ports in a temp directory: a primary (initdb, trust on 127.0.0.1,
/// wal_level replica, fsync off) and, optionally, a streaming standby of it made with pg_basebackup -R. PostgreSQL
/// refuses to run as root, so every server tool runs as the 'postgres' user through runuser, on directories it owns.
/// Stopped by the postmaster's PID (postmaster.pid) when disposed.
/// </summary>
internal sealed class PostgresServers : IAsyncDisposable
{
    public const string Bin = "/usr/lib/postgresql/15/bin";
    private static readonly string RunUser = File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-pg-");
    private readonly Dictionary<int, int> _pids = [];

    public List<int> Ports { get; } = [];
    public int Primary => Ports[0];
    public int Standby => Ports[1];

    /// <summary>How long <see cref="StartAsync"/> took (initdb, start, base backup, start, streaming).</summary>
    public TimeSpan SetupTime { get; private set; }

    public static bool Installed =>
        new[] { "initdb", "pg_ctl", "postgres", "pg_basebackup" }.All(t => File.Exists(Path.Combine(Bin, t)))
        && File.Exists(RunUser) && File.Exists("/etc/passwd") && File.ReadAllText("/etc/passwd").Contains("\npostgres:", StringComparison.Ordinal);

    /// <summary>
    /// Starts a primary on Ports[0], runs <paramref name="schema"/> on it, and with <paramref name="standby"/> a
    /// streaming standby of it on Ports[1]; returns once the standby streams.
    /// </summary>
    public static async Task<PostgresServers> StartAsync(bool standby = true, string? schema = null)
    {
        Assert.True(Installed, $"PostgreSQL 15 server tools in {Bin} and a 'postgres' user are needed (scripts/test installs them: apt-get install postgresql-15)");
        var clock = Stopwatch.StartNew();
        var pg = new PostgresServers();
        try
        {
            await Run("/bin/chown", ["postgres:postgres", pg._dir.FullName], TimeSpan.FromSeconds(10));
            var primary = Demo.FreePort.Next();
            pg.Ports.Add(primary);
            await pg.Tool("initdb", "-D", pg.DataDir(primary), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C");
            await pg.StartServerAsync(primary, "-c wal_level=replica -c max_wal_senders=5");
            if (schema is not null)
            {
                await ExecuteAsync(primary, schema);
            }

            if (standby)
            {
                var port = Demo.FreePort.Next();
                pg.Ports.Add(port);
                await pg.Tool("pg_basebackup", "-h", "127.0.0.1", "-p", primary.ToString(CultureInfo.InvariantCulture), "-U", "postgres",
                    "-D", pg.DataDir(port), "-R", "-X", "stream", "-c", "fast", "--no-sync");
                await pg.StartServerAsync(port, "");
                await Eventually.TrueAsync(async () => await TryScalarAsync<string>(port, "SELECT status FROM pg_stat_wal_receiver") == "streaming",
                    $"the standby on {port} streams from the primary on {primary}", TimeSpan.FromSeconds(30));
            }

            pg.SetupTime = clock.Elapsed;
            return pg;
        }
        catch
        {
            await pg.DisposeAsync();
            throw;
        }
    }

    private string DataDir(int port) => Path.Combine(_dir.FullName, $"data-{port}");

    private string LogFile(int port) => Path.Combine(_dir.FullName, $"postgres-{port}.log");

    private async Task StartServerAsync(int port, string extra)
    {
        var options = $"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_dir.FullName} " +
            $"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=30 {extra}";
        await Tool("pg_ctl", "-D", DataDir(port), "-l", LogFile(port), "-w", "-t", "30", "-o", options, "start");
        var pidFile = Path.Combine(DataDir(port), "postmaster.pid");
        _pids[port] = int.Parse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture);
    }

    /// <summary>pg_ctl stop -m immediate: the postmaster and its children quit at once, without a checkpoint (a crash, as
    /// far as the server's data is concerned), and the port refuses connections.</summary>
    public async Task StopImmediateAsync(int port)
    {
        await Tool("pg_ctl", "-D", DataDir(port), "-m", "immediate", "-w", "-t", "10", "stop");
        _pids.Remove(port);
    }

    /// <summary>pg_ctl promote -w: returns once the standby has left recovery (it takes writes, on a new timeline).</summary>
    public Task PromoteAsync(int port) => Tool("pg_ctl", "-D", DataDir(port), "-w", "-t", "10", "promote");

    public static string ConnectionString(int port, int timeoutSeconds = 2) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = port,
        Username = "postgres",
        Database = "postgres",
        Pooling = false,
        Timeout = timeoutSeconds,
        CommandTimeout = timeoutSeconds,
        ApplicationName = "manypaths-test",
    }.ConnectionString;

    public static async Task ExecuteAsync(int port, string sql)
    {
        await using var c = new NpgsqlConnection(ConnectionString(port));
        await c.OpenAsync();
        await using var command = new NpgsqlCommand(sql, c);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T?> ScalarAsync<T>(int port, string sql)
    {
        await using var c = new NpgsqlConnection(ConnectionString(port));
        await c.OpenAsync();
        await using var command = new NpgsqlCommand(sql, c);
        return await command.ExecuteScalarAsync() is T value ? value : default;
    }

    /// <summary>The answer, or default when the server does not answer (yet).</summary>
    public static async Task<T?> TryScalarAsync<T>(int port, string sql)
    {
        try
        {
            return await ScalarAsync<T>(port, sql);
        }
        catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
        {
            return default;
        }
    }

    public string Log(int port) => File.Exists(LogFile(port)) ? File.ReadAllText(LogFile(port)) : "";

    /// <summary>One server tool, as the postgres user; throws with its output when it fails.</summary>
    private Task Tool(string tool, params string[] args) =>
        Run(RunUser, ["-u", "postgres", "--", Path.Combine(Bin, tool), .. args], TimeSpan.FromSeconds(60), _dir.FullName);

    private static Task Run(string file, string[] args, TimeSpan timeout, string? workingDirectory = null) =>
        Support.Tool.RunCheckedAsync(file, args, timeout, workingDirectory);

    /// <summary>Alive and not a zombie (the postmaster is nobody's child here once pg_ctl has exited).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return !state.StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pid in _pids.Values)
        {
            // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its children with it.
            try
            {
                await Tool("pg_ctl", "kill", "QUIT", pid.ToString(CultureInfo.InvariantCulture)); // pg_ctl refuses to run as root
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
            }

            var waited = Stopwatch.StartNew();
            while (Alive(pid) && waited.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
            }

            if (Alive(pid))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill(entireProcessTree: true);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                }
            }

        }

        _pids.Clear();
        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
