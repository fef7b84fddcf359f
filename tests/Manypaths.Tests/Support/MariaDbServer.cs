using System.Diagnostics;
using MySqlConnector;

namespace Manypaths.Tests.Support;

/// <summary>
/// A real MariaDB server (mariadbd) on a free loopback port, its data directory made by mariadb-install-db in a temp
/// directory; root logs in over TCP without a password. No option file is read (--no-defaults), so the machine's
/// /etc/mysql configuration plays no part. Stopped by PID.
/// </summary>
internal sealed class MariaDbServer : IAsyncDisposable
{
    private const string Server = "/usr/sbin/mariadbd";
    private const string InstallDb = "/usr/bin/mariadb-install-db";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-mariadb-");
    private Process? _process;

    private MariaDbServer(int port) => Port = port;

    public int Port { get; }

    public static bool Installed => File.Exists(Server) && File.Exists(InstallDb);

    /// <summary>Starts <paramref name="count"/> servers side by side; returns once each answers a query.</summary>
    public static async Task<MariaDbServer[]> StartAsync(int count)
    {
        Assert.True(Installed, "mariadbd and mariadb-install-db are needed (scripts/test installs them: apt-get install mariadb-server)");
        var starting = Enumerable.Range(0, count).Select(_ => StartOneAsync()).ToArray();
        try
        {
            return await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var t in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await t.Result.DisposeAsync();
            }

            throw;
        }
    }

    private static async Task<MariaDbServer> StartOneAsync()
    {
        var s = new MariaDbServer(Demo.FreePort.Next());
        try
        {
            var data = Path.Combine(s._dir.FullName, "data");
            // Each server its own tmpdir: two bootstraps side by side in /tmp once failed ("Could not remove temporary
            // table '/tmp/#sql-temptable-...', error 2", then "Unknown table 'mysql.tmp_user_sys'").
            var tmp = s._dir.CreateSubdirectory("tmp").FullName;
            await RunAsync(InstallDb, ["--no-defaults", $"--datadir={data}", "--user=root", "--auth-root-authentication-method=normal",
                "--skip-test-db", "--skip-name-resolve", $"--tmpdir={tmp}"], TimeSpan.FromSeconds(60));
            var info = new ProcessStartInfo(Server)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = s._dir.FullName,
            };
            foreach (var a in (string[])["--no-defaults", "--user=root", $"--datadir={data}", $"--port={s.Port}", "--bind-address=127.0.0.1",
                $"--socket={s._dir.FullName}/sock", $"--pid-file={s._dir.FullName}/mariadbd.pid", $"--log-error={s.LogFile}",
                "--skip-name-resolve", $"--tmpdir={tmp}", "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0"])
            {
                info.ArgumentList.Add(a);
            }

            s._process = Process.Start(info)!;
            s._process.BeginOutputReadLine();
            s._process.BeginErrorReadLine();
            await Eventually.TrueAsync(async () =>
            {
                Assert.False(s._process.HasExited, $"mariadbd on {s.Port} exited:\n{s.Log}");
                try
                {
                    return await s.ScalarAsync<int>("SELECT @@port") == s.Port;
                }
                catch (MySqlException)
                {
                    return false;
                }
            }, $"mariadbd on {s.Port} answers", TimeSpan.FromSeconds(30));
            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    private string LogFile => Path.Combine(_dir.FullName, "error.log");

    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    /// <summary>root, no password, a new connection each time (no pool: each open is a new TCP connection).</summary>
    public static string ConnectionString(int port, uint timeoutSeconds = 2) => new MySqlConnectionStringBuilder
    {
        Server = "127.0.0.1",
        Port = (uint)port,
        UserID = "root",
        Password = "",
        Pooling = false,
        ConnectionTimeout = timeoutSeconds,
        DefaultCommandTimeout = timeoutSeconds,
    }.ConnectionString;

    public async Task ExecuteAsync(string sql)
    {
        await using var c = new MySqlConnection(ConnectionString(Port));
        await c.OpenAsync();
        await using var command = new MySqlCommand(sql, c);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var c = new MySqlConnection(ConnectionString(Port));
        await c.OpenAsync();
        await using var command = new MySqlCommand(sql, c);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task RunAsync(string file, string[] args, TimeSpan timeout) => Tool.RunCheckedAsync(file, args, timeout);

    public ValueTask DisposeAsync()
    {
        if (_process is { } p)
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
