using System.Net;
using Manypaths.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Manypaths.Proxy;

/// <summary>A request that a peer relayed here, already authenticated: the upstream it must go to, and its chain.</summary>
internal sealed record RelayArrival(int Upstream, string Chain, int HopsLeft);

/// <summary>Serves one client request for one service: maintenance, body buffering, YARP, sorry page.</summary>
internal sealed partial class ServiceRequestHandler(IHttpForwarder forwarder, ILogger logger)
{
    /// <summary>YARP needs a prefix; an attempt that goes elsewhere replaces it with the chosen upstream's.</summary>
    private const string Placeholder = "http://manypaths.upstream/";

    /// <param name="arrival">Set when a peer relayed this request here: serve it on the pinned upstream only.</param>
    public async Task HandleAsync(HttpContext context, ServiceRuntime service, RelayArrival? arrival = null)
    {
        var started = service.Time.GetTimestamp();
        if (HttpMethods.IsConnect(context.Request.Method) || HttpMethods.IsTrace(context.Request.Method))
        {
            // A reverse proxy is not a tunnel (CONNECT), and TRACE would echo what this proxy adds (cross-site
            // tracing); nginx refuses both too. A client mistake, not an incident: one debug line.
            Log.MethodRefused(logger, service.Name, context.Request.Method);
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
            Count(service, context.Response.StatusCode);
            return;
        }

        var maintenance = arrival is null ? service.Maintenance.Maintenance(service.Name) : null;
        if (maintenance is not null)
        {
            await Sorry(context, service, "maintenance", maintenance, started);
            return;
        }

        service.Enter(own: arrival is null); // the generation's handlers stay until this request ends, however long it takes
        try
        {
            service.Core.RecordRequest();
            var body = await TryBufferBodyAsync(context, service.Options.MaxReplayBody);
            var method = context.Request.Method;
            var idempotent = RetryPolicy.IsIdempotent(method);
            var streams = body is null && HasBody(context);
            // The upstream the first attempt will most likely go to directly: YARP's URI is then the one it needs. Not
            // with an empty path (YARP would keep a prefix's path as it is, where ours appends "/").
            var likely = arrival?.Upstream ?? service.LikelyDirect;
            var yarpUpstream = likely >= 0 && likely < service.Upstreams.Length && context.Request.Path.HasValue ? likely : -1;
            var state = new ForwardingState(service, method, body)
            {
                History = new Routing.AttemptHistory
                {
                    Pinned = arrival?.Upstream,
                    HopsLeft = arrival?.HopsLeft ?? (service.Relay?.Options.HopLimit ?? 0),
                },
                Chain = arrival?.Chain ?? "",
                YarpUpstream = yarpUpstream,
                // 'timeouts.request' runs until the response starts: that is, while attempts wait for a first byte.
                // No timer of its own: each attempt's first-byte deadline ends by then (HttpAttempts).
                // It starts once a buffered body was read (as long as that took).
                DeadlineAt = (body is null ? started : service.Time.GetTimestamp()) + Service.Timestamps.Ticks(service.Time, service.Options.Timeouts.Request),
                Hedgeable = arrival is null && HedgePolicy.Allows(service.Options.Hedge, context, streams || body is not null),
                // One attempt alone may send it: not idempotent (a POST is never sent twice), or a body read once.
                Gate = !idempotent || streams ? new Service.SendGate() : null,
            };

            var prefix = yarpUpstream >= 0 ? service.Upstreams[yarpUpstream].Prefix : Placeholder;
            var error = await forwarder.SendAsync(context, prefix, new HttpAttempts(service, state), service.ForwarderConfig, service.Transformer, CancellationToken.None);
            if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.UpgradeRequestCanceled
                && context.RequestAborted.IsCancellationRequested)
            {
                // The client (or, for a relayed request, the origin node: its hedge won) went away: nothing failed.
                Log.ClientGone(logger, service.Name, error);
                Count(service, StatusCodes.Status499ClientClosedRequest);
                return;
            }

            if (error != ForwarderError.None && !context.Response.HasStarted)
            {
                if (state.TimedOut || error == ForwarderError.RequestTimedOut)
                {
                    context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
                }
                else if (arrival is not null && (state.NothingToTry || state.NeverReachedUpstream))
                {
                    // Tell the origin its request never left this relay, so it may try another path for any method.
                    context.Response.StatusCode = StatusCodes.Status502BadGateway;
                    context.Response.Headers[Mesh.RelayHeaders.Unreached] = "1";
                }
                else if (state.NothingToTry || state.NeverReachedUpstream)
                {
                    await Sorry(context, service, state.NothingToTry ? "no_upstream" : "unreachable", null, arrival is null ? started : null);
                    return;
                }

                Log.ForwardFailed(logger, service.Name, error, context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? "");
            }

            Count(service, context.Response.StatusCode);
            if (arrival is null)
            {
                Tally(service, context.Response.StatusCode, started, state);
            }
        }
        finally
        {
            service.Exit(own: arrival is null);
        }
    }

    private static async Task Sorry(HttpContext context, ServiceRuntime service, string reason, Maintenance.MaintenanceInfo? maintenance, long? started = null)
    {
        service.Metrics.SorryPages.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("reason", reason));
        await SorryPage.WriteAsync(context, service.Options, reason, maintenance, service.Time);
        Count(service, context.Response.StatusCode);
        if (started is { } t)
        {
            Tally(service, context.Response.StatusCode, t, null);
        }
    }

    /// <summary>The request into this node's history (requests relayed here are the origin node's to count).</summary>
    private static void Tally(ServiceRuntime service, int status, long started, ForwardingState? state)
    {
        if (service.Tally is not { } tally)
        {
            return;
        }

        var path = state?.ServedPath switch
        {
            null => History.ServedPath.None,
            { Peer: not null } => History.ServedPath.Relayed,
            { Tier: var tier } when tier > service.BestTier => History.ServedPath.Backup,
            _ => History.ServedPath.Direct,
        };
        tally.Record(state?.ServedBy?.Name, path, status >= 500, service.Time.GetElapsedTime(started).TotalMilliseconds);
    }

    private static void Count(ServiceRuntime service, int status) =>
        service.Metrics.Requests.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("code", ManypathsMetrics.StatusClass(status)));

    /// <summary>Whether the client's request has a body at all (Content-Length above 0, or chunked).</summary>
    private static bool HasBody(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody
        ?? context.Request.ContentLength is > 0;

    /// <summary>Reads a body of known length up to <paramref name="limit"/> so a retry can replay it; larger ones stream.</summary>
    private static async Task<byte[]?> TryBufferBodyAsync(HttpContext context, long limit)
    {
        var length = context.Request.ContentLength;
        if (length is not { } n || n <= 0 || n > limit)
        {
            return null;
        }

        var buffer = new byte[n];
        var read = 0;
        while (read < n)
        {
            var got = await context.Request.Body.ReadAsync(buffer.AsMemory(read), context.RequestAborted);
            if (got == 0)
            {
                throw new BadHttpRequestException("The request body ended before its Content-Length.", (int)HttpStatusCode.BadRequest);
            }

            read += got;
        }

        return buffer;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1002, EventName = "MethodRefused", Level = LogLevel.Debug, Message = "Service {Service}: {Method} refused with 405 (not forwarded)")]
        public static partial void MethodRefused(ILogger logger, string service, string method);

        [LoggerMessage(EventId = 1003, EventName = "ClientGone", Level = LogLevel.Debug, Message = "Service {Service}: the client went away before the answer ({Error})")]
        public static partial void ClientGone(ILogger logger, string service, ForwarderError error);

        [LoggerMessage(EventId = 1001, EventName = "ForwardFailed", Level = LogLevel.Warning,
            Message = "Service {Service}: request failed ({Error}): {Detail}")]
        public static partial void ForwardFailed(ILogger logger, string service, ForwarderError error, string detail);
    }
}
