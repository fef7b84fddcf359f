using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Manypaths.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Integration;

/// <summary>What an operator sees around the proxy: admin auth, refused methods, log levels.</summary>
public sealed class OperatorSurfaceTests
{
    [Theory]
    [InlineData("Bearer {0}", HttpStatusCode.OK)]
    [InlineData("bearer {0}", HttpStatusCode.OK)]
    [InlineData("BEARER   {0}  ", HttpStatusCode.OK)]
    [InlineData("Bearer {0}x", HttpStatusCode.Unauthorized)]
    [InlineData("Basic {0}", HttpStatusCode.Unauthorized)]
    [InlineData("{0}", HttpStatusCode.Unauthorized)]
    public async Task AdminWrite_TheBearerSchemeIsCaseInsensitive_TheTokenIsNot(string header, HttpStatusCode expected)
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {up.Url} }}");
        // Whitespace around the token in its file is trimmed once, when the config is loaded.
        await using var node = await ProxyNode.StartAsync(yaml);
        await File.WriteAllTextAsync(Path.Combine(node.Directory, "admin.token"), $"  {ProxyNode.Token}\n\n");
        Assert.True((await node.Host.ReloadAsync(node.ConfigPath, CancellationToken.None)).Ok);
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.Admin, "api/services/svc/upstreams/a/drain"));
        request.Headers.TryAddWithoutValidation("Authorization", string.Format(System.Globalization.CultureInfo.InvariantCulture, header, ProxyNode.Token));
        using var response = await client.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.OK, node.Host.Maintenance.IsDrained("svc", "a"));
    }

    [Theory]
    [InlineData("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")]
    [InlineData("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n")]
    public async Task ConnectAndTrace_AreRefusedWith405_NotForwarded_AndLogOneDebugLine(string raw)
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {up.Url} }}");
        var logs = new CapturedLogs();
        await using var node = await ProxyNode.StartAsync(yaml, logs: logs.Factory);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(raw));
        var buffer = new byte[1024];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var answer = Encoding.ASCII.GetString(buffer, 0, read);

        Assert.StartsWith("HTTP/1.1 405 Method Not Allowed", answer, StringComparison.Ordinal);
        Assert.Contains("Allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS", answer, StringComparison.Ordinal);
        Assert.Equal(0, up.Requests);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Category.StartsWith("Manypaths.Proxy", StringComparison.Ordinal));
        Assert.Single(logs.Entries, e => e.EventName == "MethodRefused" && e.Level == LogLevel.Debug);
    }

    [Fact]
    public async Task NodeStart_AnUpstreamComingUp_IsInformation_ItGoingDown_IsAWarning()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {up.Url} }}", "health: { interval: 1s, fast_interval: 100ms, timeout: 1s, fall: 1 }");
        var logs = new CapturedLogs();
        await using var node = await ProxyNode.StartAsync(yaml, logs: logs.Factory);
        await Eventually.TrueAsync(() => logs.Entries.Any(e => e.EventName == "UpstreamUp"), "the upstream's first probe is logged");
        Assert.Equal(LogLevel.Information, logs.Entries.First(e => e.EventName == "UpstreamUp").Level);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);

        up.HealthOk = false;
        await Eventually.TrueAsync(() => logs.Any(LogLevel.Warning, "upstream a Up -> Down"), "going down is a warning");
    }
}
