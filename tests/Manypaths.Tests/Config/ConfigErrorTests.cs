using Manypaths.Config;

namespace Manypaths.Tests.Config;

/// <summary>Every mistake is reported with file, line, column and a plain sentence; the node never gets a config.</summary>
public sealed class ConfigErrorTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-config-");

    public ConfigErrorTests() => File.WriteAllText(Path.Combine(_dir.FullName, "admin.token"), "t");

    private const string Head = """
        cluster: { name: t, admin_token_file: admin.token }
        nodes:
          a: { admin: "http://127.0.0.1:7501", region: r1 }
        services:
          svc:
        """;

    public static TheoryData<string, string, int, int, string> Mistakes => new()
    {
        { "yaml syntax", Head + "\n    listen: [127.0.0.1:8081\n", 7, 1, "not valid YAML" },
        { "unknown key with hint", Head + "\n    listen: 127.0.0.1:8081\n    upstream:\n      - { name: u1, url: http://127.0.0.1:9001 }\n", 7, 5, "Unknown key 'upstream' in service 'svc'. Did you mean 'upstreams'?" },
        { "wrong type", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: { name: u1 }\n", 7, 16, "'upstreams' in service 'svc' must be a list, not a mapping" },
        { "bad duration", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    health: { interval: 5 seconds }\n", 8, 25, "'interval' in 'health' in service 'svc' is not a duration: '5 seconds'" },
        { "bad url", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: ftp://files } ]\n", 7, 35, "'url' in an upstream of service 'svc' is not an http:// or https:// URL: 'ftp://files'" },
        { "duplicate upstream", Head + "\n    listen: 127.0.0.1:8081\n    upstreams:\n      - { name: u1, url: http://127.0.0.1:9001 }\n      - { name: u1, url: http://127.0.0.1:9002 }\n", 9, 17, "two upstreams named 'u1'" },
        { "duplicate service", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n  svc:\n    listen: 127.0.0.1:8082\n", 8, 3, "not valid YAML: Duplicate key" },
        { "route to unknown service", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\nlisteners:\n  app:\n    listen: 127.0.0.1:8090\n    routes:\n      - { path: /auth/, service: svcc }\n", 12, 34, "goes to service 'svcc', which is not declared under 'services'. Did you mean 'svc'?" },
        { "backup tier without primary", Head + "\n    listen: 127.0.0.1:8081\n    upstreams:\n      - { name: u1, url: http://127.0.0.1:9001, tier: backup }\n", 8, 7, "only upstreams of tier backup and none of tier primary" },
        { "bad tier", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001, tier: gold } ]\n", 7, 64, "'tier' must be primary, backup or a whole number" },
        { "missing token file", "cluster: { admin_token_file: nope.token }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n", 1, 30, "The admin token file 'nope.token' does not exist" },
        { "missing secret file", "cluster: { secret_file: cluster.key }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n", 1, 25, "The peer secret file 'cluster.key' does not exist" },
        { "secret required for several nodes", "cluster: { name: t }\nnodes:\n  a: { admin: http://127.0.0.1:7501 }\n  b: { admin: http://127.0.0.1:7502 }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n", 1, 10, "more than one node needs 'cluster.secret_file'" },
        { "bad listen address", Head + "\n    listen: localhost\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 6, 13, "'localhost' is not a listen address" },
        { "listen names unknown node", Head + "\n    listen: { b: 127.0.0.1:8081 }\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 6, 15, "names node 'b', which is not declared under 'nodes'" },
        { "url on a tcp upstream", Head + "\n    mode: tcp\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 8, 35, "An upstream of tcp service 'svc' takes 'address' (host:port), not 'url'." },
        { "unknown mode", Head + "\n    mode: udp\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 6, 11, "'mode' in service 'svc' must be http or tcp, not 'udp'" },
        { "rise out of range", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    health: { rise: 0 }\n", 8, 21, "'rise' in 'health' in service 'svc' must be between 1 and 100, not 0" },
        { "timeout longer than interval", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    health: { interval: 1s, timeout: 2s }\n", 8, 38, "health check timeout (2s) must not be longer than its interval (1s)" },
        { "missing upstream url", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1 } ]\n", 7, 18, "is missing the required key 'url'" },
        { "no upstreams", Head + "\n    listen: 127.0.0.1:8081\n", 6, 5, "Service 'svc' has no 'upstreams'" },
        { "listen clash", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n  other:\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 8, 3, "Service 'other' listens on 127.0.0.1:8081 on node 'a', which Service 'svc' already uses" },
        { "bad http version", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    http_version: 3\n", 8, 19, "'http_version' must be 1.1 or 2, not '3'" },
        { "bad status range", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    retry_on: [ 503, teapot ]\n", 8, 22, "'retry_on' in service 'svc' must list HTTP statuses or ranges" },
        { "missing sorry file", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    sorry: { file: sorry.html }\n", 8, 20, "The sorry page file 'sorry.html' does not exist" },
        { "empty upstream item", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ ~ ]\n", 7, 18, "An upstream of service 'svc' is empty" },
        { "empty services", "cluster: { admin_token_file: admin.token }\nservices: {}\n", 2, 11, "'services' is empty" },
        { "huge duration", "cluster: { shutdown_grace: 99999999999h }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n", 1, 28, "'shutdown_grace' in 'cluster' in the config file is too large: 99999999999h (at most a year)" },
        { "unclosed flow list", Head + "\n    listen: 127.0.0.1:8081\n    relay: [true\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 8, 5, "a list '[' or mapping '{' opened before this point is not closed" },
        { "unclosed flow mapping", "a: { b: 1\nc: 2\n", 2, 1, "is not closed (is a ']' or '}' missing?)" },
        { "tab indentation", Head + "\n    listen: 127.0.0.1:8081\n\tupstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 7, 1, "a tab is used for indentation here" },
        { "number too large", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    retries: 99999999999999999999\n", 8, 14, "'retries' in service 'svc' is too large: 99999999999999999999 (it must be between 0 and 10)" },
        { "size too large", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    max_replay_body: 99999999999999999999999\n", 8, 22, "'max_replay_body' in service 'svc' is too large" },
        { "list as a key", Head + "\n    listen: { [a]: 127.0.0.1:8081 }\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 6, 15, "A key in 'listen' in service 'svc' is a list; keys are plain names" },
        { "same address on nodes of one host", "cluster: { secret_file: admin.token }\nnodes:\n  a: { mesh: http://127.0.0.1:7401, admin: http://127.0.0.1:7501 }\n  b: { mesh: http://127.0.0.1:7402, admin: http://127.0.0.1:7502 }\nservices:\n  s:\n    listen: 127.0.0.1:8095\n    upstreams: [ { name: u, url: http://127.0.0.1:9001 } ]\n", 6, 3, "Service 's' listens on 127.0.0.1:8095 on nodes a and b, which share one host (their mesh/admin addresses are all on loopback): only one of them could bind it" },
        { "node listens on a peer's admin port", "cluster: { secret_file: admin.token }\nnodes:\n  a: { mesh: http://127.0.0.1:7401, admin: http://127.0.0.1:7501 }\n  b: { mesh: http://127.0.0.1:7402, admin: http://127.0.0.1:7502 }\nservices:\n  s:\n    listen: { a: 127.0.0.1:7502, b: 127.0.0.1:8096 }\n    upstreams: [ { name: u, url: http://127.0.0.1:9001 } ]\n", 6, 3, "Service 's' on node 'a' listens on 127.0.0.1:7502, which the admin API of node 'b' would bind too: nodes a and b share one host (their mesh/admin addresses are all on loopback), so only one of them could bind it." },
        { "default timeout longer than interval", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    health: { interval: 200ms }\n", 8, 25, "must not be longer than its interval (200ms) (the default timeout is 1s" },
        { "eject longer than eject_max", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    passive: { eject: 10m, eject_max: 1m }\n", 8, 23, "The first ejection (10m) must not be longer than eject_max (60s)" },
        { "wildcard clash", Head + "\n    listen: \"*:8081\"\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n  other:\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", 8, 3, "listens on 127.0.0.1:8081 on node 'a', which Service 'svc' already uses" },
        { "empty secret file", "cluster: { secret_file: \"\" }\nnodes:\n  a: { admin: http://127.0.0.1:7501 }\n  b: { admin: http://127.0.0.1:7502 }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n", 1, 25, "'secret_file' in 'cluster' in the config file is empty" },
        { "idle shorter than request", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    timeouts: { request: 30s, idle: 10s }\n", 8, 37, "'idle' (10s) in 'timeouts' in service 'svc' must not be shorter than 'request' (30s)" },
        { "bad boolean", Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    relay: maybe\n", 8, 12, "'relay' in service 'svc' must be true or false, not 'maybe'" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Load_Mistake_IsReportedWithPositionAndSentence(string name, string yaml, int line, int column, string message)
    {
        Support.ConfigAssert.Refused(yaml, Path.Combine(_dir.FullName, "manypaths.yaml"), line, column, message, name);
    }

    [Fact]
    public void Load_ALongRequestTimeoutWithoutIdle_IsValid_AndIdleFollowsIt()
    {
        // Configs written before 'idle' existed keep loading: unset, idle is 60 s or the request timeout if longer.
        var path = Path.Combine(_dir.FullName, "manypaths.yaml");
        var longRequest = ConfigLoader.Load(Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n    timeouts: { request: 5m }\n", path);
        Assert.True(longRequest.Ok, string.Join("\n", longRequest.Errors));
        Assert.Equal(TimeSpan.FromMinutes(5), longRequest.Config!.Services["svc"].Timeouts.Idle);
        var plain = ConfigLoader.Load(Head + "\n    listen: 127.0.0.1:8081\n    upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]\n", path);
        Assert.Equal(TimeSpan.FromSeconds(60), plain.Config!.Services["svc"].Timeouts.Idle);
    }

    [Fact]
    public void Load_SeveralMistakes_AreAllReportedAtOnce()
    {
        var yaml = Head + "\n    listen: nowhere\n    upstreams: [ { name: u1, url: nope, weight: -1 } ]\n    retries: many\n";
        var result = ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "m.yaml"));
        Assert.True(result.Errors.Count >= 4, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Load_ValidConfig_HasNoErrors()
    {
        var yaml = Head + "\n    listen: { a: 127.0.0.1:8081 }\n    upstreams:\n      - { name: u1, url: http://127.0.0.1:9001, region: us-east, weight: 2 }\n      - { name: b1, url: http://127.0.0.1:9003, tier: backup }\n    health: { path: /healthz, interval: 500ms, timeout: 300ms, rise: 2, fall: 2 }\n    hedge: { delay: auto, max_attempts: 2 }\n    max_replay_body: 1MiB\n";
        var result = ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "ok.yaml"));
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var svc = result.Config!.Services["svc"];
        Assert.Equal(TimeSpan.FromMilliseconds(500), svc.Health.Interval);
        Assert.Equal(1, svc.Upstreams[1].Tier);
        Assert.Equal(1024 * 1024, svc.MaxReplayBody);
        Assert.Null(svc.Hedge!.Delay);
    }

    [Fact]
    public void Load_NestingThatWouldOverflowTheStack_IsRefusedWithAPosition()
    {
        var yaml = "a: " + new string('[', 50_000) + new string(']', 50_000) + "\n";
        var error = Assert.Single(ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "deep.yaml")).Errors);
        Assert.Equal((1, 67), (error.Line, error.Column));
        Assert.StartsWith("The config nests lists and mappings deeper than 64 levels here", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AnEmptyAdminTokenFile_IsAProblem()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "empty.token"), " \n");
        var yaml = "cluster: { admin_token_file: empty.token }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n";
        var error = Assert.Single(ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "m.yaml")).Errors);
        Assert.Equal((1, 30), (error.Line, error.Column));
        Assert.StartsWith("The admin token file is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TheSameAddressOnNodesOfDifferentHosts_IsValid()
    {
        // Each node on its own machine (mesh addresses on different IPs): one listen address for all is fine.
        var yaml = "cluster: { secret_file: admin.token }\nnodes:\n  a: { mesh: http://10.250.0.1:7401, admin: http://127.0.0.1:7501 }\n  b: { mesh: http://10.250.0.2:7401, admin: http://127.0.0.1:7501 }\nservices:\n  s:\n    listen: 127.0.0.1:8095\n    upstreams: [ { name: u, url: http://127.0.0.1:9001 } ]\n";
        var result = ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "m.yaml"));
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }

    [Fact]
    public void LoadFile_Utf16WithBom_SaysItIsNotUtf8()
    {
        var path = Path.Combine(_dir.FullName, "utf16.yaml");
        File.WriteAllText(path, "services: {}\n", new System.Text.UnicodeEncoding(bigEndian: false, byteOrderMark: true));
        var error = Assert.Single(ConfigLoader.LoadFile(path).Errors);
        Assert.Equal($"{path}:1:1: The config file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8: save it as UTF-8.", error.ToString());
    }

    [Fact]
    public void LoadFile_ABytesThatIsNotUtf8_IsNamedWithItsPosition()
    {
        var path = Path.Combine(_dir.FullName, "latin1.yaml");
        File.WriteAllBytes(path, [.. "cluster:\n  name: caf"u8, 0xE9, .. "\n"u8]);
        var error = Assert.Single(ConfigLoader.LoadFile(path).Errors);
        Assert.Equal((2, 12), (error.Line, error.Column));
        Assert.Contains("not UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_ADirectory_SaysItIsADirectory()
    {
        var error = Assert.Single(ConfigLoader.LoadFile(_dir.FullName).Errors);
        Assert.Contains("This is a directory, not a config file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_AMissingFile_SaysItDoesNotExist()
    {
        var error = Assert.Single(ConfigLoader.LoadFile(Path.Combine(_dir.FullName, "nope.yaml")).Errors);
        Assert.Equal("Cannot read the config file: it does not exist", error.Message);
    }

    [Fact]
    public void Lines_MoreThanFiftyProblems_ShowsFiftyAndHowManyMore()
    {
        var yaml = "services:\n" + string.Concat(Enumerable.Range(0, 80).Select(i => $"  s{i}: {{ listen: nowhere, upstreams: [ {{ name: u, url: http://127.0.0.1:9001 }} ] }}\n"));
        var result = ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "many.yaml"));
        Assert.Equal(80, result.Errors.Count);
        var lines = ConfigError.Lines(result.Errors).ToList();
        Assert.Equal(51, lines.Count);
        Assert.Equal("... and 30 more problem(s) not shown.", lines[^1]);
    }

    [Fact]
    public void Config_ToString_NeverShowsTheAdminToken()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "secret.token"), "  s3cr3t-token-value \n");
        var yaml = "cluster: { admin_token_file: secret.token }\nservices:\n  s: { listen: 127.0.0.1:8081, upstreams: [ { name: u, url: http://127.0.0.1:9001 } ] }\n";
        var config = ConfigLoader.Load(yaml, Path.Combine(_dir.FullName, "m.yaml")).Config!;
        Assert.DoesNotContain("s3cr3t", config.ToString(), StringComparison.Ordinal);
        Assert.True(config.Cluster.AdminToken!.Matches("s3cr3t-token-value")); // trimmed once, at load
        Assert.False(config.Cluster.AdminToken.Matches(" s3cr3t-token-value"));
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
