using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Manypaths.Node;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Manypaths.Status;

/// <summary>
/// The node's admin address: GET /, /api/status, /metrics, /healthz (open), and the write endpoints for
/// maintenance and drains, which need the bearer token from cluster.admin_token_file.
/// </summary>
internal sealed class AdminServer(NodeHost host, IPEndPoint endpoint) : IAsyncDisposable
{
    private WebApplication? _app;

    public Uri Url { get; private set; } = new($"http://{endpoint}/");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(endpoint);
        });
        var app = builder.Build();
        app.MapGet("/healthz", (HttpContext c) => Json(c, new AdminOk("ok"), StatusJsonContext.Default.AdminOk));
        app.MapGet("/api/status", (HttpContext c) => Json(c, StatusReportBuilder.Build(host), StatusJsonContext.Default.StatusReport));
        app.MapGet("/metrics", (HttpContext c) =>
        {
            c.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return c.Response.WriteAsync(host.Exporter.Render());
        });
        app.MapGet("/", (HttpContext c) =>
        {
            c.Response.ContentType = "text/html; charset=utf-8";
            var report = StatusReportBuilder.Build(host);
            return c.Response.WriteAsync(StatusPage.Render(report, host.Generation?.Config.Status.Title ?? "Manypaths status"));
        });
        app.MapPost("/api/services/{service}/maintenance", SetMaintenanceAsync);
        app.MapDelete("/api/services/{service}/maintenance", (HttpContext c, string service) =>
            Write(c, service, null, () => host.Maintenance.ClearMaintenance(service) ? "maintenance off" : "maintenance was already off"));
        app.MapPost("/api/services/{service}/upstreams/{upstream}/drain", (HttpContext c, string service, string upstream) =>
            Write(c, service, upstream, () =>
            {
                host.Maintenance.SetDrain(service, upstream);
                return "drained";
            }));
        app.MapDelete("/api/services/{service}/upstreams/{upstream}/drain", (HttpContext c, string service, string upstream) =>
            Write(c, service, upstream, () => host.Maintenance.ClearDrain(service, upstream) ? "undrained" : "was not drained"));
        await app.StartAsync(cancellationToken);
        _app = app;
    }

    /// <summary>
    /// Maintenance messages ride in every heartbeat: 500 characters and 1,000 UTF-8 bytes at most, so a switch
    /// with the longest message still fits one unfragmented heartbeat datagram (Mesh/StateChunks.Budget).
    /// </summary>
    internal const int MaxMaintenanceMessage = 500;
    internal const int MaxMaintenanceMessageBytes = 1000;

    private async Task SetMaintenanceAsync(HttpContext c, string service)
    {
        MaintenanceRequest? body = null;
        if (c.Request.ContentLength is > 0)
        {
            try
            {
                body = await JsonSerializer.DeserializeAsync(c.Request.Body, StatusJsonContext.Default.MaintenanceRequest, c.RequestAborted);
            }
            catch (JsonException e)
            {
                await Fail(c, 400, $"The request body is not valid JSON: {e.Message}");
                return;
            }
        }

        if (body?.Message is { } message && (message.Length > MaxMaintenanceMessage || System.Text.Encoding.UTF8.GetByteCount(message) > MaxMaintenanceMessageBytes))
        {
            await Fail(c, 400, $"The maintenance message has {message.Length} characters ({System.Text.Encoding.UTF8.GetByteCount(message)} bytes in UTF-8); at most {MaxMaintenanceMessage} characters and {MaxMaintenanceMessageBytes} bytes are allowed (it travels in every heartbeat).");
            return;
        }

        DateTimeOffset? until = null;
        if (body?.Until is { Length: > 0 } text)
        {
            if (!Cli.TimeArgument.TryParse(text, host.Time, out var parsed))
            {
                await Fail(c, 400, $"'until' must be an ISO-8601 time or a duration such as 30m, not '{text}'.");
                return;
            }

            until = parsed;
        }

        await Write(c, service, null, () =>
        {
            host.Maintenance.SetMaintenance(service, body?.Message, until);
            return "maintenance on";
        });
    }

    private async Task Write(HttpContext c, string service, string? upstream, Func<string> action)
    {
        var denied = Authorize(c);
        if (denied is not null)
        {
            await Fail(c, denied.Value.Status, denied.Value.Message);
            return;
        }

        var g = host.Generation;
        if (g is null || !g.Config.Services.TryGetValue(service, out var options))
        {
            await Fail(c, 404, $"There is no service '{service}'.");
            return;
        }

        if (upstream is not null && options.Upstreams.All(u => u.Name != upstream))
        {
            await Fail(c, 404, $"Service '{service}' has no upstream '{upstream}'.");
            return;
        }

        await Json(c, new AdminOk(action()), StatusJsonContext.Default.AdminOk);
    }

    private (int Status, string Message)? Authorize(HttpContext c)
    {
        var tokenFile = host.Generation?.Config.Cluster.AdminTokenFile;
        if (tokenFile is null)
        {
            return (403, "Admin writes are disabled on this node: set cluster.admin_token_file.");
        }

        string expected;
        try
        {
            expected = File.ReadAllText(tokenFile).Trim();
        }
        catch (IOException)
        {
            return (503, "The admin token file cannot be read on this node.");
        }

        var header = c.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.Ordinal) || expected.Length == 0)
        {
            return (401, "This admin write needs 'Authorization: Bearer <token>'.");
        }

        var given = Encoding.UTF8.GetBytes(header[prefix.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(expected)) ? null : (401, "The admin token is wrong.");
    }

    private static Task Fail(HttpContext c, int status, string message)
    {
        c.Response.StatusCode = status;
        return Json(c, new AdminError(message), StatusJsonContext.Default.AdminError);
    }

    private static Task Json<T>(HttpContext c, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        c.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(c.Response.Body, value, type, c.RequestAborted);
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _app.StopAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }
}
