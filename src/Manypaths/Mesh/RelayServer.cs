using System.Globalization;
using System.Net;
using Manypaths.Demo;
using Manypaths.Node;
using Manypaths.Proxy;
using Manypaths.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Manypaths.Mesh;

/// <summary>
/// The HTTP side of the peer channel, on the node's mesh address: /_mesh/relay/{service}/{upstream}/{path}.
/// Forwards only to a configured upstream of a relay-enabled service, only over this node's direct path, and
/// refuses (and counts) unauthenticated, expired, replayed, looping or foreign-target requests.
/// </summary>
internal sealed partial class RelayServer(
    string self,
    IPEndPoint endpoint,
    IReadOnlyCollection<string> peers,
    PeerSigner signer,
    ReplayGuard replay,
    Func<string, ServiceRuntime?> services,
    Func<string, Tcp.TcpProxy?> tcpServices,
    ServiceRequestHandler handler,
    ManypathsMetrics metrics,
    ILogger logger) : IAsyncDisposable
{
    private WebApplication? _app;
    private volatile bool _draining;

    /// <summary>This node's own incidents as JSON, for peers (GET /_mesh/incidents); null: not served.</summary>
    public Func<string>? IncidentsJson { get; set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = Node.EmbeddedWebHost.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null;
            k.Listen(endpoint);
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartOrExplainAsync(endpoint, "mesh relay endpoint", cancellationToken);
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var incidents = path == RelayHeaders.IncidentsPath && HttpMethods.IsGet(context.Request.Method) && IncidentsJson is not null;
        var warm = path.StartsWith(RelayHeaders.WarmPrefix, StringComparison.Ordinal) && HttpMethods.IsGet(context.Request.Method);
        if (!incidents && !warm && !path.StartsWith(RelayHeaders.PathPrefix, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var h = context.Request.Headers;
        var from = h[RelayHeaders.From].ToString();
        var time = h[RelayHeaders.Time].ToString();
        var nonce = h[RelayHeaders.Nonce].ToString();
        var hops = h[RelayHeaders.Hops].ToString();
        var chain = h[RelayHeaders.Chain].ToString();
        // The raw target, exactly as the origin signed it (Path is already percent-decoded).
        var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? (path + context.Request.QueryString);
        var canonical = RelayHeaders.Canonical(context.Request.Method, target, from, time, nonce, hops, chain, context.Request.ContentLength);
        if (!peers.Contains(from) || nonce.Length == 0 || !signer.VerifyText(canonical, h[RelayHeaders.Signature].ToString()))
        {
            await Refuse(context, RelayRefusal.Unauthenticated, StatusCodes.Status401Unauthorized, "relay request is not signed by a cluster peer");
            return;
        }

        if (!long.TryParse(time, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ||
            replay.Check(DateTimeOffset.FromUnixTimeMilliseconds(ms), nonce) is not null)
        {
            await Refuse(context, "expired_or_replayed", StatusCodes.Status401Unauthorized, "relay request is expired or replayed");
            return;
        }

        if (incidents)
        {
            // A peer merging the cluster's incidents: this node's own, signed and fresh like any mesh request.
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(IncidentsJson!());
            return;
        }

        if (warm)
        {
            await WarmAsync(context, path[RelayHeaders.WarmPrefix.Length..]);
            return;
        }

        var hopsLeft = int.TryParse(hops, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
        if (hopsLeft < 0 || chain.Split(',').Contains(self, StringComparer.Ordinal))
        {
            await Refuse(context, RelayRefusal.Loop, StatusCodes.Status508LoopDetected, "relay chain already holds this node or has no hop left");
            return;
        }

        if (_draining)
        {
            // Shutting down: take nothing new. "Unreached" tells the origin its request never left this node, so
            // it tries another path at once, for any method (peers also stop choosing this one on our next ping).
            context.Response.Headers[RelayHeaders.Unreached] = "1";
            await Refuse(context, "draining", StatusCodes.Status502BadGateway, "this node is shutting down; relay elsewhere");
            return;
        }

        var rest = path[RelayHeaders.PathPrefix.Length..];
        var parts = rest.Split('/', 3);
        if (parts.Length == 2 && tcpServices(parts[0]) is { } tcp)
        {
            var index = Array.FindIndex(tcp.Core.Upstreams, u => u.Name == parts[1]);
            if (index < 0 || !tcp.Core.Options.Relay)
            {
                await Refuse(context, RelayRefusal.UnknownTarget, StatusCodes.Status404NotFound, "no such relay-enabled service and upstream here");
                return;
            }

            await tcp.ServeRelayedAsync(context, index);
            return;
        }

        var service = parts.Length >= 2 ? services(parts[0]) : null;
        var upstream = service is null ? -1 : Array.FindIndex(service.Upstreams, u => u.Name == parts[1]);
        if (service is null || upstream < 0 || !service.Options.Relay)
        {
            await Refuse(context, RelayRefusal.UnknownTarget, StatusCodes.Status404NotFound, "no such relay-enabled service and upstream here");
            return;
        }

        context.Request.Path = "/" + (parts.Length == 3 ? parts[2] : "");
        await handler.HandleAsync(context, service, new RelayArrival(upstream, chain, hopsLeft));
    }

    /// <summary>
    /// A peer keeps its standby path through this node warm: GETs of the named upstream's health path over this
    /// node's pool (so this node's connections to it are warm too), outside the attempt loop: one, or as many at once
    /// as the query's <c>n</c> asks (at most <see cref="StandbyPolicy.MaxConnections"/>; the peer asks so when its
    /// own link to this node is busy with live requests), answered with how many succeeded
    /// (<see cref="RelayHeaders.Warmed"/>). Only a configured upstream of a relay-enabled service; the path asked is
    /// always the service's own health path.
    /// </summary>
    private async Task WarmAsync(HttpContext context, string target)
    {
        var parts = target.Split('/');
        var service = parts.Length == 2 ? services(parts[0]) : null;
        var upstream = service is null ? -1 : Array.FindIndex(service.Upstreams, u => u.Name == parts[1]);
        if (service is null || upstream < 0 || !service.Options.Relay || !StandbyWarmer.Applies(service.Options))
        {
            await Refuse(context, RelayRefusal.UnknownTarget, StatusCodes.Status404NotFound, "no such relay-enabled service and upstream here");
            return;
        }

        if (_draining)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        var n = int.TryParse(context.Request.Query["n"], NumberStyles.None, CultureInfo.InvariantCulture, out var asked)
            ? Math.Clamp(asked, 1, Service.StandbyPolicy.MaxConnections) : 1;
        var sends = new Task<bool>[n];
        for (var i = 0; i < n; i++)
        {
            sends[i] = StandbyWarmer.SendDirectAsync(service, upstream, context.RequestAborted);
        }

        var ok = (await Task.WhenAll(sends)).Count(x => x);
        context.Response.Headers[RelayHeaders.Warmed] = ok.ToString(CultureInfo.InvariantCulture);
        context.Response.StatusCode = ok > 0 ? StatusCodes.Status204NoContent : StatusCodes.Status502BadGateway;
    }

    private Task Refuse(HttpContext context, RelayRefusal reason, int status, string message) =>
        Refuse(context, reason.ToString().ToLowerInvariant(), status, message);

    private Task Refuse(HttpContext context, string name, int status, string message)
    {
        metrics.RelayRefused.Add(1, new KeyValuePair<string, object?>("reason", name));
        if (name != "draining") // expected while stopping; counted, not a warning per request
        {
            Log.Refused(logger, name, context.Request.Headers[RelayHeaders.From].ToString());
        }

        context.Response.StatusCode = status;
        context.Response.Headers["X-Manypaths-Refused"] = name;
        return context.Response.WriteAsync(message);
    }

    /// <summary>Refuses new relayed requests (as unreached) and lets those in flight finish within <paramref name="grace"/>.</summary>
    public async Task DrainAsync(TimeSpan grace, CancellationToken now = default)
    {
        _draining = true;
        if (_app is not null)
        {
            await _app.StopGracefullyAsync(grace, now);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopNowAsync();
            _app = null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, EventName = "RelayRefused", Level = LogLevel.Warning, Message = "Relay request refused ({Reason}) from '{From}'")]
        public static partial void Refused(ILogger logger, string reason, string from);
    }
}
