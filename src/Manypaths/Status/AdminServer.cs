using System.Net;
using System.Text.Json;
using Manypaths.Maintenance;
using Manypaths.Mesh;
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
        var builder = Node.EmbeddedWebHost.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(endpoint);
        });
        var app = builder.Build();
        app.MapGet("/healthz", (HttpContext c) =>
        {
            // 503 while draining, so a load balancer or keepalived check in front stops sending here first.
            c.Response.StatusCode = host.Draining ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            return Json(c, new AdminOk(host.Draining ? "draining" : "ok"), StatusJsonContext.Default.AdminOk);
        });
        app.MapGet("/api/status", (HttpContext c) => Json(c, StatusReportBuilder.Build(host), StatusJsonContext.Default.StatusReport));
        app.MapGet("/api/dns/query", (HttpContext c) =>
        {
            var name = c.Request.Query["name"].ToString();
            if (host.Generation?.Dns is not { } zones)
            {
                c.Response.StatusCode = StatusCodes.Status404NotFound;
                return Json(c, new AdminError("This node serves no DNS zones (no 'dns:' in its config)."), StatusJsonContext.Default.AdminError);
            }

            if (!ARSoft.Tools.Net.DomainName.TryParse(name.TrimEnd('.'), out _) || name.Length == 0)
            {
                c.Response.StatusCode = StatusCodes.Status400BadRequest;
                return Json(c, new AdminError($"'{name}' is not a domain name."), StatusJsonContext.Default.AdminError);
            }

            var type = c.Request.Query["type"].ToString() is { Length: > 0 } t ? t : "A";
            var client = System.Net.IPAddress.TryParse(c.Request.Query["client"].ToString(), out var ip) ? ip : System.Net.IPAddress.Loopback;
            return Json(c, zones.Explain(name, type, client, host.NodeName), StatusJsonContext.Default.DnsExplanation);
        });
        app.MapGet("/api/history", (HttpContext c) => History(c));
        app.MapGet("/api/incidents", (HttpContext c) =>
            Json(c, Incidents(), StatusJsonContext.Default.IncidentsReport));
        app.MapPost("/api/incidents/{id}/notes", (HttpContext c, string id) => NoteAsync(c, id));
        app.MapGet("/metrics", (HttpContext c) =>
        {
            c.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return c.Response.WriteAsync(host.Exporter.Render());
        });
        app.MapGet("/", (HttpContext c) =>
        {
            c.Response.ContentType = "text/html; charset=utf-8";
            c.Response.Headers.CacheControl = "no-store";
            var report = StatusReportBuilder.Build(host);
            var config = host.Generation?.Config;
            var extras = new PageExtras(host.Recorder, config?.Cluster.Quorum ?? 0.5, config?.Status.Public ?? false, StatusReportBuilder.Aliases(host));
            return c.Response.WriteAsync(c.Request.Query.ContainsKey("fragment")
                ? StatusPage.Fragment(report, extras)
                : StatusPage.Render(report, config?.Status.Title ?? "Manypaths status", extras));
        });
        app.MapPost("/api/services/{service}/maintenance", (HttpContext c, string service) =>
            Write(c, service, null, async () =>
            {
                var (body, problem) = await ReadMaintenanceAsync(c);
                return problem is not null ? problem
                    : new SwitchResult("maintenance on", host.Maintenance.SetMaintenance(service, body.Message, body.Until));
            }));
        app.MapDelete("/api/services/{service}/maintenance", (HttpContext c, string service) =>
            Write(c, service, null, () =>
            {
                var was = host.Maintenance.ClearMaintenance(service, out var entry);
                return Task.FromResult<object>(new SwitchResult(was ? "maintenance off" : "maintenance was already off", entry));
            }));
        app.MapPost("/api/services/{service}/upstreams/{upstream}/drain", (HttpContext c, string service, string upstream) =>
            Write(c, service, upstream, () => Task.FromResult<object>(new SwitchResult("drained", host.Maintenance.SetDrain(service, upstream)))));
        app.MapDelete("/api/services/{service}/upstreams/{upstream}/drain", (HttpContext c, string service, string upstream) =>
            Write(c, service, upstream, () =>
            {
                var was = host.Maintenance.ClearDrain(service, upstream, out var entry);
                return Task.FromResult<object>(new SwitchResult(was ? "undrained" : "was not drained", entry));
            }));
        await app.StartOrExplainAsync(endpoint, "admin API", cancellationToken);
        _app = app;
    }

    private IncidentsReport Incidents()
    {
        var aliases = StatusReportBuilder.Aliases(host);
        return new IncidentsReport(aliases[host.NodeName], (host.Recorder?.ClusterIncidents() ?? []).Select(i => i with { Nodes = i.Nodes.Select(n => aliases[n]).ToList() }).ToList());
    }

    /// <summary>POST /api/incidents/{id}/notes {"text": "..."} (admin token): an operator's update, shown on every node.</summary>
    private async Task NoteAsync(HttpContext c, string id)
    {
        if (Authorize(c) is { } denied)
        {
            await Fail(c, denied.Status, denied.Message);
            return;
        }

        if (host.Recorder is not { } recorder || recorder.ClusterIncidents().All(i => i.Id != id))
        {
            await Fail(c, 404, $"No incident '{id}' (see /api/incidents).");
            return;
        }

        IncidentNoteRequest? body = null;
        try
        {
            body = await JsonSerializer.DeserializeAsync(c.Request.Body, StatusJsonContext.Default.IncidentNoteRequest, c.RequestAborted);
        }
        catch (JsonException e)
        {
            await Fail(c, 400, $"The request body is not valid JSON: {e.Message}");
            return;
        }

        if (body?.Text is not { Length: > 0 and <= MaxMaintenanceMessage } text)
        {
            await Fail(c, 400, $"A note needs 'text' of 1 to {MaxMaintenanceMessage} characters.");
            return;
        }

        recorder.AddNote(id, text, host.Time.GetUtcNow());
        await Json(c, new AdminOk($"note added to {id}"), StatusJsonContext.Default.AdminOk);
    }

    /// <summary>GET /api/history?service=&amp;from=&amp;to= (ISO 8601; default the last 24 h).</summary>
    private Task History(HttpContext c)
    {
        var service = c.Request.Query["service"].ToString();
        if (host.Generation is not { } g || !g.Services.ContainsKey(service))
        {
            c.Response.StatusCode = StatusCodes.Status404NotFound;
            return Json(c, new AdminError($"No service '{service}' on this node: give ?service= one of {string.Join(", ", host.Generation?.Services.Keys.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>())}."), StatusJsonContext.Default.AdminError);
        }

        var now = host.Time.GetUtcNow();
        DateTimeOffset? Parse(string key) => c.Request.Query[key].ToString() is { Length: > 0 } text
            && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        var to = Parse("to") ?? now;
        var from = Parse("from") ?? (to > DateTimeOffset.MinValue.AddDays(1) ? to - TimeSpan.FromHours(24) : DateTimeOffset.MinValue);
        if (from > to)
        {
            c.Response.StatusCode = StatusCodes.Status400BadRequest;
            return Json(c, new AdminError($"'from' ({from:O}) is after 'to' ({to:O})."), StatusJsonContext.Default.AdminError);
        }
        if (host.Recorder?.Writer is not { } writer)
        {
            c.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Json(c, new AdminError(host.Recorder?.HistoryError ?? "This node keeps no history."), StatusJsonContext.Default.AdminError);
        }

        var hours = to - from > Manypaths.History.HistoryStore.MinutesKept;
        var report = new HistoryReport(service, from, to, hours ? "hour" : "minute", writer.Store.Rows(service, from, to, hours, upstreams: true),
            writer.Store.Transitions(from, to).Where(t => t.Subject == service || t.Subject.StartsWith(service + "/", StringComparison.Ordinal)).ToList());
        return Json(c, report, StatusJsonContext.Default.HistoryReport);
    }

    /// <summary>
    /// Maintenance messages ride in every heartbeat: 500 characters and 1,000 UTF-8 bytes at most, so a switch
    /// with the longest message still fits one unfragmented heartbeat datagram (Mesh/StateChunks.Budget).
    /// </summary>
    internal const int MaxMaintenanceMessage = 500;
    internal const int MaxMaintenanceMessageBytes = 1000;

    private sealed record SwitchResult(string Text, SwitchEntry Entry);

    private sealed record Problem(int Status, string Message);

    /// <summary>The body of a maintenance-on request: message and end time, checked.</summary>
    private async Task<((string? Message, DateTimeOffset? Until) Body, Problem? Problem)> ReadMaintenanceAsync(HttpContext c)
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
                return (default, new Problem(400, $"The request body is not valid JSON: {e.Message}"));
            }
        }

        if (body?.Message is { } message && (message.Length > MaxMaintenanceMessage || System.Text.Encoding.UTF8.GetByteCount(message) > MaxMaintenanceMessageBytes))
        {
            return (default, new Problem(400, $"The maintenance message has {message.Length} characters ({System.Text.Encoding.UTF8.GetByteCount(message)} bytes in UTF-8); at most {MaxMaintenanceMessage} characters and {MaxMaintenanceMessageBytes} bytes are allowed (it travels in every heartbeat)."));
        }

        DateTimeOffset? until = null;
        if (body?.Until is { Length: > 0 } text)
        {
            if (!Cli.TimeArgument.TryParse(text, host.Time, out var parsed))
            {
                return (default, new Problem(400, $"'until' must be an ISO-8601 time or a duration such as 30m, not '{text}'."));
            }

            until = parsed;
        }

        return ((body?.Message, until), null);
    }

    /// <summary>
    /// An admin write: token first, then the service (and upstream) must exist, then the switch is set and the
    /// answer says where it stands: which nodes applied it, which have not yet, which are unreachable.
    /// </summary>
    private async Task Write(HttpContext c, string service, string? upstream, Func<Task<object>> action)
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

        switch (await action())
        {
            case Problem p:
                await Fail(c, p.Status, p.Message);
                return;
            case SwitchResult r:
                var timeout = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, (3 * g.Config.Mesh.Heartbeat + TimeSpan.FromSeconds(1)).Ticks));
                var spread = await SwitchSpread.WaitAsync(host.NodeName, host.Mesh, r.Entry, g.Config.Mesh.DeadAfter, timeout, host.Time, c.RequestAborted);
                var e = r.Entry;
                await Json(c, new AdminWriteResult(r.Text, e.Service, e.Upstream.Length == 0 ? null : e.Upstream, e.Message, e.Until, host.NodeName,
                    spread.AppliedOn, spread.Pending, spread.Unreachable, spread.Superseded), StatusJsonContext.Default.AdminWriteResult);
                return;
        }
    }

    private (int Status, string Message)? Authorize(HttpContext c)
    {
        if (host.Generation?.Config.Cluster.AdminToken is not { } expected)
        {
            return (403, "Admin writes are disabled on this node: set cluster.admin_token_file.");
        }

        // RFC 9110: the scheme is case-insensitive ("bearer", "BEARER"); one or more spaces before the token.
        var header = c.Request.Headers.Authorization.ToString().AsSpan().Trim();
        var space = header.IndexOf(' ');
        if (space <= 0 || !header[..space].Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return (401, "This admin write needs 'Authorization: Bearer <token>'.");
        }

        return expected.Matches(header[(space + 1)..].Trim()) ? null : (401, "The admin token is wrong.");
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
            await _app.StopGracefullyAsync(TimeSpan.FromSeconds(2));
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
