using Manypaths.Config;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Config;

/// <summary>The status and alerts contract of the status-page issue: its keys load with their meaning; mistakes are named with their place.</summary>
public sealed class AlertsConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-alerts-config-");

    private const string Contract = """
        cluster: { quorum: 50% }
        nodes:
          a: { admin: "http://127.0.0.1:7501" }
        services:
          svc:
            listen: 127.0.0.1:8081
            upstreams: [ { name: u1, url: http://127.0.0.1:9001 } ]
        status:
          title: Acme status
          public: false
          data_dir: /var/lib/manypaths
          retention: 90d
        alerts:
          hold: 5s
          group: 2s
          webhooks:
            - { url: http://127.0.0.1:9900/hook, format: json }
            - { url_file: slack.url, format: slack }
        """;

    private string ConfigPath => Path.Combine(_dir.FullName, "manypaths.yaml");

    public AlertsConfigTests() => File.WriteAllText(Path.Combine(_dir.FullName, "slack.url"), "https://hooks.slack.example/services/T000/B000/s3cr3t\n");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Contract_LoadsWithItsMeaning()
    {
        var config = ConfigAssert.LoadValid(Contract, ConfigPath);
        Assert.Equal(("Acme status", false, "/var/lib/manypaths", TimeSpan.FromDays(90)),
            (config.Status.Title, config.Status.Public, config.Status.DataDir, config.Status.Retention));
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)), (config.Alerts.Hold, config.Alerts.Group));
        Assert.Collection(config.Alerts.Webhooks,
            h => Assert.Equal((new Uri("http://127.0.0.1:9900/hook"), WebhookFormat.Json, "webhook 1 (json)"), (h.Url, h.Format, h.Label)),
            h => Assert.Equal((new Uri("https://hooks.slack.example/services/T000/B000/s3cr3t"), WebhookFormat.Slack, "webhook 2 (slack)"), (h.Url, h.Format, h.Label)));
    }

    [Fact]
    public void Defaults_WithoutTheSections()
    {
        var config = ConfigAssert.LoadValid(Contract[..Contract.IndexOf("status:", StringComparison.Ordinal)], ConfigPath);
        Assert.Null(config.Status.DataDir);
        Assert.Equal(TimeSpan.FromDays(90), config.Status.Retention);
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)), (config.Alerts.Hold, config.Alerts.Group));
        Assert.Empty(config.Alerts.Webhooks);
    }

    [Fact]
    public void HistoryCanBeSwitchedOff()
    {
        Assert.True(ConfigAssert.LoadValid(Contract, ConfigPath).Status.History);
        Assert.False(ConfigAssert.LoadValid(Contract.Replace("  public: false\n", "  public: false\n  history: false\n", StringComparison.Ordinal), ConfigPath).Status.History);
    }

    [Fact]
    public void ARelativeDataDir_IsResolvedAgainstTheConfigFolder()
    {
        var config = ConfigAssert.LoadValid(Contract.Replace("data_dir: /var/lib/manypaths", "data_dir: state", StringComparison.Ordinal), ConfigPath);
        Assert.Equal(Path.Combine(_dir.FullName, "state"), config.Status.DataDir);
    }

    public static TheoryData<string, string, string, int, int, string> Mistakes => new()
    {
        { "unknown format", "format: json }", "format: teams }", 17, 50, "'format' in a webhook must be json or slack, not 'teams'." },
        { "both url and url_file", "{ url: http://127.0.0.1:9900/hook, format: json }", "{ url: http://127.0.0.1:9900/hook, url_file: slack.url }", 17, 7,
            "A webhook needs exactly one of 'url' (written here) or 'url_file' (a file holding a secret URL)." },
        { "missing url file", "url_file: slack.url", "url_file: nope.url", 18, 19, "The webhook URL file 'nope.url' does not exist" },
        { "a url that is not http (not echoed: it may hold a token)", "url: http://127.0.0.1:9900/hook", "url: ftp://127.0.0.1/hook?token=x", 17, 14,
            "'url' in a webhook is not an http(s) URL such as http://127.0.0.1:9900/hook (the value is not shown: webhook URLs often carry a secret)." },
        { "unknown key", "  group: 2s\n", "  group: 2s\n  repeat: 1h\n", 16, 3, "repeat" },
        { "retention under an hour", "retention: 90d", "retention: 10m", 12, 14, "retention" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Mistakes_AreNamedWithTheirPlace(string name, string old, string replacement, int line, int column, string message)
    {
        Assert.Contains(old, Contract, StringComparison.Ordinal);
        ConfigAssert.Refused(Contract.Replace(old, replacement, StringComparison.Ordinal), ConfigPath, line, column, message, name);
    }

    [Fact]
    public void AUrlFileThatHoldsNoUrl_IsRefused_WithoutShowingItsContent()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "slack.url"), "s3cr3t-not-a-url");
        var result = ConfigLoader.Load(Contract, ConfigPath);
        var error = Assert.Single(result.Errors);
        Assert.Equal((18, 19), (error.Line, error.Column));
        Assert.Contains("does not hold an http(s) URL", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }
}
