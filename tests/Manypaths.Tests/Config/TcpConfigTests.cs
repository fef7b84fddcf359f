using Manypaths.Config;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Config;

/// <summary>
/// mode: tcp services (docs/design/tcp-services.md): the contract example loads with the defaults the design promises,
/// and every key given to the wrong mode or the wrong check is refused at its line and column with a plain sentence.
/// </summary>
public sealed class TcpConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-tcp-config-");

    public TcpConfigTests()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "sentinel.pw"), "s");
        File.WriteAllText(Path.Combine(_dir.FullName, "pg.pw"), "p");
    }

    /// <summary>The example of the tcp services contract, as an operator would write it.</summary>
    private const string Contract = """
        services:
          cache:
            mode: tcp
            listen: 127.0.0.1:6380
            upstreams:
              - { name: r1, address: 127.0.0.1:7001 }
              - { name: r2, address: 127.0.0.1:7002 }
              - { name: r3, address: 127.0.0.1:7003 }
            health: { check: redis-primary, interval: 250ms, timeout: 200ms, rise: 1, fall: 2 }
            on_demotion: close
            sentinels: { master: mymaster, addresses: [127.0.0.1:26379, 127.0.0.1:26380], password_file: sentinel.pw }
            limits: { max_connections: 10000, max_per_client: 1000 }
            timeouts: { connect: 5s, idle: 1h }
          cache-read:
            mode: tcp
            listen: 127.0.0.1:6381
            upstreams:
              - { name: r1, address: 127.0.0.1:7001 }
              - { name: r2, address: 127.0.0.1:7002 }
              - { name: r3, address: 127.0.0.1:7003 }
            health: { check: redis-replica, max_lag: 1MB }
        """;

    /// <summary>The smallest tcp service (lines 1-6); cases append lines from line 7 on.</summary>
    private const string Tcp = """
        services:
          db:
            mode: tcp
            listen: 127.0.0.1:6380
            upstreams:
              - { name: r1, address: 127.0.0.1:7001 }
        """;

    /// <summary>The smallest http service (lines 1-5); cases append lines from line 6 on.</summary>
    private const string Http = """
        services:
          web:
            listen: 127.0.0.1:8080
            upstreams:
              - { name: a, url: http://127.0.0.1:9001 }
        """;

    private string ConfigPath => Path.Combine(_dir.FullName, "manypaths.yaml");

    private ManypathsConfig LoadValid(string yaml) => ConfigAssert.LoadValid(yaml, ConfigPath);

    private ServiceOptions LoadTcp(string lines) => LoadValid(Tcp + lines).Services["db"];

    private void AssertRefused(string yaml, int line, int column, string message, string name = "") =>
        ConfigAssert.Refused(yaml, ConfigPath, line, column, message, name);

    [Fact]
    public void Load_TheContractExample_GivesTwoTcpServicesWithTheirChecksAddressesAndOptions()
    {
        var config = LoadValid(Contract);

        var cache = config.Services["cache"];
        Assert.Equal(ServiceMode.Tcp, cache.Mode);
        Assert.Equal(HealthCheckKind.RedisPrimary, cache.Health.Check);
        Assert.Equal(["tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002", "tcp://127.0.0.1:7003"], cache.Upstreams.Select(u => u.Url.GetLeftPart(UriPartial.Authority)));
        Assert.Equal(["r1", "r2", "r3"], cache.Upstreams.Select(u => u.Name));
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 6380), cache.Listen!.All);
        Assert.Equal((TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(200), 1, 2), (cache.Health.Interval, cache.Health.Timeout, cache.Health.Rise, cache.Health.Fall));
        Assert.Null(cache.Tcp.DemotionGrace); // close: at once
        Assert.Equal((10_000, 1_000), (cache.Tcp.MaxConnections, cache.Tcp.MaxPerClient));
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromHours(1)), (cache.Timeouts.Connect, cache.Timeouts.Idle));
        Assert.Equal("mymaster", cache.Tcp.Sentinels!.Master);
        Assert.Null(cache.Hedge); // a connection is not a request: nothing is hedged

        var read = config.Services["cache-read"];
        Assert.Equal(ServiceMode.Tcp, read.Mode);
        Assert.Equal(HealthCheckKind.RedisReplica, read.Health.Check);
        Assert.Equal(1_000_000, read.Health.MaxLagBytes);
        Assert.Null(read.Tcp.Sentinels);
        Assert.Null(cache.Health.MaxLagBytes);
    }

    [Theory]
    [InlineData("127.0.0.1:6379", "tcp://127.0.0.1:6379", "127.0.0.1", 6379)]
    [InlineData("\"[::1]:5432\"", "tcp://[::1]:5432", "[::1]", 5432)]
    [InlineData("\"[2001:db8::7]:3306\"", "tcp://[2001:db8::7]:3306", "[2001:db8::7]", 3306)]
    [InlineData("db1.internal:3306", "tcp://db1.internal:3306", "db1.internal", 3306)]
    [InlineData("localhost:65535", "tcp://localhost:65535", "localhost", 65535)]
    public void Load_ATcpAddress_IsKeptAsATcpUrlWithItsHostAndPort(string address, string url, string host, int port)
    {
        var upstream = Assert.Single(LoadValid(Tcp.Replace("127.0.0.1:7001", address, StringComparison.Ordinal)).Services["db"].Upstreams);
        Assert.Equal(url, upstream.Url.GetLeftPart(UriPartial.Authority));
        Assert.Equal("tcp", upstream.Url.Scheme);
        Assert.Equal((host, port), (upstream.Url.Host, upstream.Url.Port));
    }

    [Theory]
    [InlineData("redis-primary", HealthCheckKind.RedisPrimary)]
    [InlineData("redis-replica", HealthCheckKind.RedisReplica)]
    [InlineData("postgres-primary", HealthCheckKind.PostgresPrimary)]
    [InlineData("postgres-standby", HealthCheckKind.PostgresStandby)]
    [InlineData("mysql-primary", HealthCheckKind.MysqlPrimary)]
    [InlineData("mysql-replica", HealthCheckKind.MysqlReplica)]
    public void Load_ARoleCheckAlone_AsksEvery250msWithin200ms_AndTrustsOneAnswer(string check, HealthCheckKind kind)
    {
        var health = LoadTcp($"\n    health: {{ check: {check} }}\n").Health;
        Assert.Equal(kind, health.Check);
        Assert.Equal(TimeSpan.FromMilliseconds(250), health.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(250), health.FastInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(200), health.Timeout);
        Assert.Equal((1, 2), (health.Rise, health.Fall));
    }

    [Fact]
    public void Load_ARoleCheckWithSomeTimingsSet_KeepsTheRoleDefaultsForTheOthers()
    {
        var health = LoadTcp("\n    health: { check: postgres-primary, interval: 1s, fall: 3 }\n").Health;
        Assert.Equal(TimeSpan.FromSeconds(1), health.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(200), health.Timeout);
        Assert.Equal((1, 3), (health.Rise, health.Fall));
    }

    [Fact]
    public void Load_ATcpServiceWithoutHealth_IsCheckedByAConnect_WithTheOrdinaryTimings()
    {
        var health = LoadTcp("").Health;
        Assert.Equal(HealthCheckKind.Tcp, health.Check);
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 2, 2), (health.Interval, health.Timeout, health.Rise, health.Fall));
    }

    [Fact]
    public void Load_TcpTimeoutsUnset_ConnectIs5sAndIdleIs1h_WhereHttpIdlesOutAfter60s()
    {
        var tcp = LoadTcp("").Timeouts;
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromHours(1)), (tcp.Connect, tcp.Idle));
        Assert.Equal(TimeSpan.FromHours(1), LoadTcp("\n    timeouts: { connect: 2s }\n").Timeouts.Idle);
        Assert.Equal(TimeSpan.FromSeconds(2), LoadTcp("\n    timeouts: { connect: 2s }\n").Timeouts.Connect);
        Assert.Equal(TimeSpan.FromSeconds(60), LoadValid(Http).Services["web"].Timeouts.Idle);
    }

    [Fact]
    public void Load_TcpIdleLongerThanAnHour_IsKept()
    {
        Assert.Equal(TimeSpan.FromHours(8), LoadTcp("\n    timeouts: { idle: 8h }\n").Timeouts.Idle);
    }

    [Fact]
    public void Load_TcpIdleUnderAMinute_IsKept()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), LoadTcp("\n    timeouts: { idle: 30s }\n").Timeouts.Idle);
    }

    [Fact]
    public void Load_LimitsUnset_Allow10000ConnectionsAnd1000PerClient_AndOneSetKeepsTheOtherDefault()
    {
        var unset = LoadTcp("").Tcp;
        Assert.Equal((10_000, 1_000), (unset.MaxConnections, unset.MaxPerClient));
        var one = LoadTcp("\n    limits: { max_connections: 50 }\n").Tcp;
        Assert.Equal((50, 1_000), (one.MaxConnections, one.MaxPerClient));
    }

    [Fact]
    public void Load_OnDemotion_IsCloseByDefault_AndGraceOnAReadServiceKeepsConnectionsThatLong()
    {
        Assert.Null(LoadTcp("\n    health: { check: redis-primary }\n").Tcp.DemotionGrace);
        Assert.Equal(TimeSpan.FromSeconds(5), LoadTcp("\n    health: { check: postgres-standby }\n    on_demotion: grace:5s\n").Tcp.DemotionGrace);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), LoadTcp("\n    health: { check: mysql-replica }\n    on_demotion: grace:1.5s\n").Tcp.DemotionGrace);
    }

    [Theory]
    [InlineData("redis-replica", "1MB", 1_000_000)]
    [InlineData("redis-replica", "1MiB", 1_048_576)]
    [InlineData("redis-replica", "64KB", 64_000)]
    [InlineData("postgres-standby", "65536", 65_536)]
    [InlineData("postgres-standby", "16mb", 16_000_000)]
    public void Load_MaxLag_IsANumberOfBytes(string check, string maxLag, long bytes)
    {
        Assert.Equal(bytes, LoadTcp($"\n    health: {{ check: {check}, max_lag: {maxLag} }}\n").Health.MaxLagBytes);
    }

    [Fact]
    public void Load_PostgresCredentials_AreReadWithThePasswordFileResolvedNextToTheConfig()
    {
        var health = LoadTcp("\n    health: { check: postgres-primary, user: monitor, password_file: pg.pw, database: app }\n").Health;
        Assert.Equal("monitor", health.User);
        Assert.Equal(Path.Combine(_dir.FullName, "pg.pw"), health.PasswordFile);
        Assert.Equal("app", health.Database);
    }

    [Fact]
    public void Load_Sentinels_GiveTheMasterNameEachAddressAndThePasswordFile()
    {
        var sentinels = LoadTcp("\n    health: { check: redis-primary }\n    sentinels: { master: mymaster, addresses: [127.0.0.1:26379, \"[::1]:26380\", s3.internal:26381], password_file: sentinel.pw }\n").Tcp.Sentinels!;
        Assert.Equal("mymaster", sentinels.Master);
        Assert.Equal([("127.0.0.1", 26379), ("::1", 26380), ("s3.internal", 26381)], sentinels.Addresses.Select(a => (a.Host, a.Port)));
        Assert.Equal(Path.Combine(_dir.FullName, "sentinel.pw"), sentinels.PasswordFile);
    }

    [Fact]
    public void Load_APerNodeListenMap_GivesEachNodeItsTcpAddress()
    {
        var yaml = "nodes:\n  a: { admin: http://127.0.0.1:7501 }\n" + Tcp.Replace("listen: 127.0.0.1:6380", "listen: { a: 127.0.0.1:6390 }", StringComparison.Ordinal);
        var listen = LoadValid(yaml).Services["db"].Listen!;
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 6390), listen.For("a"));
    }

    public static TheoryData<string, string, int, int, string> Refusals => new()
    {
        { "url on a tcp upstream", Tcp.Replace("address: 127.0.0.1:7001", "url: http://127.0.0.1:7001", StringComparison.Ordinal), 6, 26, "An upstream of tcp service 'db' takes 'address' (host:port), not 'url'." },
        { "address on an http upstream", Http.Replace("url: http://127.0.0.1:9001", "address: 127.0.0.1:9001", StringComparison.Ordinal), 5, 29, "An upstream of http service 'web' takes 'url' (http://host:port/...), not 'address' (that is for mode: tcp)." },
        { "tcp address without a port", Tcp.Replace("127.0.0.1:7001", "127.0.0.1", StringComparison.Ordinal), 6, 30, "'address' in an upstream of service 'db' must be host:port (such as 127.0.0.1:6379, [::1]:5432 or db1.internal:3306), not '127.0.0.1'." },
        { "tcp address as a URL", Tcp.Replace("127.0.0.1:7001", "tcp://127.0.0.1:7001", StringComparison.Ordinal), 6, 30, "must be host:port (such as 127.0.0.1:6379, [::1]:5432 or db1.internal:3306), not 'tcp://127.0.0.1:7001'." },
        { "unknown check", Tcp + "\n    health: { check: redis-master }\n", 7, 22, "'check' in 'health' in service 'db' must be one of tcp, redis-primary, redis-replica, postgres-primary, postgres-standby, mysql-primary, mysql-replica, not 'redis-master'." },
        { "misspelt check", Tcp + "\n    health: { check: postgres-standy }\n", 7, 22, "not 'postgres-standy'. Did you mean 'postgres-standby'?" },
        { "check: http on a tcp service", Tcp + "\n    health: { check: http }\n", 7, 22, "'check: http' in 'health' in service 'db' is for mode: http services; a tcp service uses tcp or a role check such as redis-primary." },
        { "role check on an http service", Http + "\n    health: { check: redis-primary }\n", 6, 22, "'check: redis-primary' in 'health' in service 'web' is for mode: tcp services; an http service is checked with an HTTP GET of 'path'." },
        { "health path on a tcp service", Tcp + "\n    health: { path: /healthz }\n", 7, 21, "'path' in 'health' in service 'db' does not apply to 'check: tcp'." },
        { "user on a plain tcp check", Tcp + "\n    health: { check: tcp, user: monitor }\n", 7, 33, "'user' in 'health' in service 'db' does not apply to 'check: tcp'." },
        { "grace on demotion on a primary service", Tcp + "\n    health: { check: redis-primary }\n    on_demotion: grace:5s\n", 8, 18, "'on_demotion: grace:5s' in service 'db' is allowed on read services only (a replica check): connections to a demoted primary are closed at once" },
        { "grace on demotion with a plain tcp check", Tcp + "\n    on_demotion: grace:5s\n", 7, 18, "'on_demotion: grace:5s' in service 'db' is allowed on read services only" },
        { "on_demotion neither close nor grace", Tcp + "\n    on_demotion: drain\n", 7, 18, "'on_demotion' in service 'db' must be close or grace:<duration> (such as grace:5s), not 'drain'." },
        { "max_lag on mysql-replica", Tcp + "\n    health: { check: mysql-replica, max_lag: 1MB }\n", 7, 46, "'max_lag' in 'health' in service 'db' is not offered for mysql-replica: MySQL reports lag only as Seconds_Behind_Source, which is unreliable" },
        { "max_lag on a primary check", Tcp + "\n    health: { check: postgres-primary, max_lag: 1MB }\n", 7, 49, "'max_lag' in 'health' in service 'db' applies only to replica checks (redis-replica, postgres-standby)." },
        { "max_lag as a duration", Tcp + "\n    health: { check: redis-replica, max_lag: 10s }\n", 7, 46, "'max_lag' in 'health' in service 'db' is a number of bytes of replication behind the primary, such as 1MB or 65536, not '10s'" },
        { "database on a redis check", Tcp + "\n    health: { check: redis-replica, database: app }\n", 7, 47, "'database' in 'health' in service 'db' applies only to postgres checks." },
        { "missing health password file", Tcp + "\n    health: { check: postgres-standby, password_file: nope.pw }\n", 7, 55, "The password file 'nope.pw' does not exist (looked for " },
        { "missing sentinel password file", Tcp + "\n    health: { check: redis-primary }\n    sentinels: { master: m, addresses: [127.0.0.1:26379], password_file: nope.pw }\n", 8, 74, "The password file 'nope.pw' does not exist (looked for " },
        { "inline password", Tcp + "\n    health: { check: redis-primary, password: hunter2 }\n", 7, 37, "Unknown key 'password' in 'health' in service 'db'." },
        { "sentinels on a postgres service", Tcp + "\n    health: { check: postgres-primary }\n    sentinels: { master: m, addresses: [127.0.0.1:26379] }\n", 8, 16, "'sentinels' in service 'db' applies only to redis-primary and redis-replica checks." },
        { "sentinel address without a port", Tcp + "\n    health: { check: redis-primary }\n    sentinels: { master: m, addresses: [sentinel1] }\n", 8, 41, "A sentinel address must be host:port, not 'sentinel1'." },
        { "request timeout on a tcp service", Tcp + "\n    timeouts: { connect: 2s, request: 30s }\n", 7, 30, "Unknown key 'request' in 'timeouts' in service 'db'. Known keys: connect, idle." },
        { "role check interval shorter than its default timeout", Tcp + "\n    health: { check: redis-primary, interval: 100ms }\n", 7, 47, "The health check timeout (200ms) must not be longer than its interval (100ms) (the default timeout is 200ms: set 'timeout' too)." },
        { "max_connections 0", Tcp + "\n    limits: { max_connections: 0 }\n", 7, 32, "'max_connections' in 'limits' in service 'db' must be between 1 and 1000000, not 0." },
        { "route from an http listener to a tcp service", Tcp + "\nlisteners:\n  app:\n    listen: 127.0.0.1:8090\n    routes:\n      - { path: /, service: db }\n", 11, 29, "A route of listener 'app' goes to service 'db', which is mode: tcp: HTTP listeners route only to mode: http services (a tcp service has its own 'listen')." },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Load_TcpMistake_IsRefusedAtItsPositionWithASentence(string name, string yaml, int line, int column, string message)
    {
        AssertRefused(yaml, line, column, message, name);
    }

    public static TheoryData<string, string> HttpOnlyKeys => new()
    {
        { "retries", "2" },
        { "retry_on", "503" },
        { "retry_budget", "{ ratio: 0.1 }" },
        { "max_replay_body", "1KB" },
        { "sorry", "{ retry_after: 1s }" },
        { "forwarded", "{ via: true }" },
        { "http_version", "2" },
        { "hedge", "{ delay: auto }" },
        { "warm_standby", "true" },
    };

    [Theory]
    [MemberData(nameof(HttpOnlyKeys))]
    public void Load_AnHttpOnlyKeyOnATcpService_IsRefusedAtItsValue(string key, string value)
    {
        AssertRefused(Tcp + $"\n    {key}: {value}\n", 7, key.Length + 7, $"'{key}' in service 'db' applies only to mode: http services; this one is mode: tcp.");
    }

    public static TheoryData<string, string> TcpOnlyKeys => new()
    {
        { "on_demotion", "close" },
        { "limits", "{ max_connections: 5 }" },
        { "sentinels", "{ master: m, addresses: [127.0.0.1:26379] }" },
    };

    [Theory]
    [MemberData(nameof(TcpOnlyKeys))]
    public void Load_ATcpOnlyKeyOnAnHttpService_IsRefusedAtItsValue(string key, string value)
    {
        AssertRefused(Http + $"\n    {key}: {value}\n", 6, key.Length + 7, $"'{key}' in service 'web' applies only to mode: tcp services; this one is mode: http.");
    }

    [Fact]
    public void Load_AnInlinePassword_IsRefused_AndTheMessageNamesPasswordFile()
    {
        var result = ConfigLoader.Load(Tcp + "\n    health: { check: redis-primary, password: hunter2 }\n", ConfigPath);
        var error = Assert.Single(result.Errors);
        Assert.Contains("password_file", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
