using System.Net;
using Manypaths.Config;
using Manypaths.Maintenance;
using Manypaths.Service;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Manypaths.Proxy;

/// <summary>
/// The HTTP front end of one service for one config generation: YARP's settings, the upstream connection pool,
/// the path invoker (our side of YARP's forwarder) and the header transformer, on top of the protocol-neutral
/// <see cref="ServiceCore"/> that chooses paths and runs attempts.
/// </summary>
internal sealed class ServiceRuntime : IDisposable
{
    private readonly SocketsHttpHandler _handler;

    public ServiceRuntime(ServiceCore core, ILoggerFactory loggers, Mesh.FaultInjector? faults = null)
    {
        Core = core;
        var options = core.Options;
        PassiveBadStatus = new StatusSet(options.Passive.OnStatus);
        RetryStatus = new StatusSet(options.Retry.OnStatus);
        ForwarderConfig = new ForwarderRequestConfig
        {
            // 'timeouts.idle': silence allowed on a body or a WebSocket, reset by every byte. It also runs before the
            // headers, where our own 'timeouts.request' deadline must win, so the reader refuses idle < request.
            ActivityTimeout = options.Timeouts.Idle,
            Version = options.HttpVersion,
            // http_version 2 means HTTP/2 only: h2c on http:// needs prior knowledge (Exact); 1.1 stays 1.1.
            VersionPolicy = options.HttpVersion.Major == 2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
        };
        PoolHandOff.EnsureListening(); // before the pool: its queue-time instrument must be listened to
        _handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90), // outlives Service/StandbyPolicy.Refresh: warmed connections stay
            ConnectCallback = UpstreamConnector.Create(options.Timeouts.Connect, core.Time, faults, core.ConnectWindow, core.InFlight.Find, core.ClosedUnderRequest),
            ActivityHeadersPropagator = null,
        };
        ProxyLogger = loggers.CreateLogger("Manypaths.Proxy");
        Pool = new HttpMessageInvoker(_handler, disposeHandler: false);
        Transformer = new ForwardingTransformer(this);
        _warmer = StandbyWarmer.Applies(options) && core.Chooser.HasAlternatives ? new StandbyWarmer(this, ProxyLogger) : null;
    }

    public ServiceCore Core { get; }
    public string Name => Core.Name;
    public ServiceOptions Options => Core.Options;
    public NodeOptions Node => Core.Node;
    public MaintenanceState Maintenance => Core.Maintenance;
    public ManypathsMetrics Metrics => Core.Metrics;
    public TimeProvider Time => Core.Time;
    public UpstreamCore[] Upstreams => Core.Upstreams;
    /// <summary>The service's upstream connection pool (our connect callback picks the socket). A request's attempts
    /// go through their own <see cref="HttpAttempts"/> over the same handler; warm-ups go straight here.</summary>
    public HttpMessageInvoker Pool { get; }

    /// <summary>The pool's handler, for the per-request invokers (<see cref="HttpAttempts"/>).</summary>
    public HttpMessageHandler Handler => _handler;

    public ILogger ProxyLogger { get; }

    /// <summary>
    /// The upstream the last request's first attempt went to directly (-1: none yet). Its prefix is what YARP builds
    /// the outgoing URI from, so a first attempt that goes there again reuses that URI instead of building a second.
    /// A plain field: a stale read only costs that request one more URI.
    /// </summary>
    public int LikelyDirect { get; set; } = -1;
    public ForwardingTransformer Transformer { get; }
    public StatusSet PassiveBadStatus { get; }
    public StatusSet RetryStatus { get; }
    public ForwarderRequestConfig ForwarderConfig { get; }

    /// <summary>Set when the service has relay: true and this node is part of a mesh: how to sign for a peer.</summary>
    public Mesh.RelayContext? Relay { get; init; }

    /// <summary>The best (lowest) tier of its upstreams: a request served by a later one counts as "backup".</summary>
    public int BestTier => _bestTier ??= Upstreams.Length == 0 ? 0 : Upstreams.Min(u => u.Options.Tier);

    private int? _bestTier;

    /// <summary>This service's current minute of history on this node (null: no history).</summary>
    public History.ServiceTally? Tally { get; init; }

    /// <summary>Non-idempotent requests may be raced and rescued only where a gated body proves them unsent (HTTP/1.1).</summary>
    public bool GatesProveUnsent => Options.HttpVersion.Major < 2;

    /// <summary>Counts a request in flight on this generation's handlers, until <see cref="Exit"/>.</summary>
    /// <param name="own">A client's request here, not one a peer relayed in (pinned: it has no standby path).</param>
    public void Enter(bool own)
    {
        Interlocked.Increment(ref _inFlight);
        if (own)
        {
            var n = Interlocked.Increment(ref _ownInFlight);
            if (n > Volatile.Read(ref _ownPeak))
            {
                Volatile.Write(ref _ownPeak, n); // a lost race understates a peak by one for one tick: fine for a pool size
            }
        }
    }

    /// <summary>The most own requests in flight at once since the last call.</summary>
    public int TakeOwnPeak() => Interlocked.Exchange(ref _ownPeak, Volatile.Read(ref _ownInFlight));

    public void Exit(bool own)
    {
        if (own)
        {
            Interlocked.Decrement(ref _ownInFlight);
        }

        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _retiring))
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Completes once no request is in flight here (slow uploads, streams and WebSockets included).</summary>
    public Task DrainedAsync()
    {
        Volatile.Write(ref _retiring, true);
        StopWarming();
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        return _drained.Task;
    }

    /// <summary>A retiring generation keeps no pools warm (the new one warms the same paths).</summary>
    public void StopWarming() => _warmer?.Dispose();

    private int _inFlight;
    private int _ownInFlight;
    private int _ownPeak;
    private readonly StandbyWarmer? _warmer;
    private bool _retiring;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Dispose()
    {
        _warmer?.Dispose();
        Pool.Dispose();
        _handler.Dispose();
    }
}
