using Manypaths.Config;

namespace Manypaths.Health;

/// <summary>
/// GET the health path of an HTTP upstream: healthy when the status is expected (and the body holds the expected
/// text, if configured). Sent over the service's probe client, whose connections are kept alive and replaced every
/// <see cref="HealthCheckOptions.ReusedConnectionLifetime"/>.
/// </summary>
internal sealed class HttpProbe(HttpMessageInvoker client, Uri upstream, HealthCheckOptions options) : IProbe
{
    private const int MaxBodyBytes = 64 * 1024;
    private readonly Uri _target = new(upstream, upstream.AbsolutePath.TrimEnd('/') + options.Path);

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _target);
        // Kept alive by default (half the CPU of a fresh connection per probe, on both sides); the pool replaces
        // the connection every 30 s, and a probe that times out or fails takes its connection with it.
        request.Headers.ConnectionClose = !options.ReuseConnection;
        request.Headers.UserAgent.ParseAdd("manypaths-health/1");
        if (options.Host is { } host)
        {
            request.Headers.Host = host;
        }

        using var response = await client.SendAsync(request, cancellationToken);
        var status = (int)response.StatusCode;
        if (!options.ExpectStatus.Any(r => r.Contains(status)))
        {
            return new ProbeResult(false, $"status {status}");
        }

        if (options.ExpectBody is { } expected && !(await ReadLimitedAsync(response, cancellationToken)).Contains(expected, StringComparison.Ordinal))
        {
            return new ProbeResult(false, $"status {status} without '{expected}' in the body");
        }

        return new ProbeResult(true, $"status {status}");
    }

    /// <summary>The client every HTTP probe of one service shares: our connector (connect timeout, fault layer).</summary>
    public static HttpMessageInvoker CreateClient(HealthCheckOptions options, TimeProvider time, Mesh.FaultInjector? faults) =>
        new(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectCallback = Proxy.UpstreamConnector.Create(options.Timeout, time, faults),
            PooledConnectionLifetime = options.ReuseConnection ? HealthCheckOptions.ReusedConnectionLifetime : TimeSpan.Zero,
        });

    private static async Task<string> ReadLimitedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxBodyBytes];
        var total = 0;
        int n;
        while (total < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(total), ct)) > 0)
        {
            total += n;
        }

        return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
    }
}
