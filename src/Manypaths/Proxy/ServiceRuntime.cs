using System.Net;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Routing;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Manypaths.Proxy;

/// <summary>Everything one service needs on this node for one config generation.</summary>
internal sealed class ServiceRuntime : IDisposable
{
    private readonly SocketsHttpHandler _handler;

    public ServiceRuntime(
        ServiceOptions options,
        NodeOptions node,
        IReadOnlyDictionary<(string Service, string Upstream), UpstreamHealth> health,
        MaintenanceState maintenance,
        ManypathsMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers,
        Mesh.FaultInjector? faults = null,
        Random? random = null)
    {
        Options = options;
        Node = node;
        Maintenance = maintenance;
        Metrics = metrics;
        Time = time;
        Upstreams = options.Upstreams.Select((u, i) => new UpstreamRuntime(i, u, health[(options.Name, u.Name)])).ToArray();
        Selector = new UpstreamSelector(node.Region, new RegionPreference(), random ?? Random.Shared);
        Budget = new RetryBudget(options.Retry.BudgetRatio, options.Retry.BudgetMinPerSecond, time);
        HttpVersion = options.HttpVersion;
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
        _handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectCallback = UpstreamConnector.Create(options.Timeouts.Connect, time, faults),
            ActivityHeadersPropagator = null,
        };
        Invoker = new PathInvoker(this, _handler, loggers.CreateLogger("Manypaths.Proxy"));
        Transformer = new ForwardingTransformer(this);
    }

    public string Name => Options.Name;
    public ServiceOptions Options { get; }
    public NodeOptions Node { get; }
    public MaintenanceState Maintenance { get; }
    public ManypathsMetrics Metrics { get; }
    public TimeProvider Time { get; }
    public UpstreamRuntime[] Upstreams { get; }
    public UpstreamSelector Selector { get; }
    public RetryBudget Budget { get; }
    public PathInvoker Invoker { get; }
    public ForwardingTransformer Transformer { get; }
    public Version HttpVersion { get; }
    public StatusSet PassiveBadStatus { get; }
    public StatusSet RetryStatus { get; }
    public ForwarderRequestConfig ForwarderConfig { get; }

    /// <summary>Set when the service has relay: true and this node is part of a mesh.</summary>
    public Mesh.RelayContext? Relay { get; set; }

    /// <summary>The selection view of every upstream right now (health, drain).</summary>
    public UpstreamView[] Views()
    {
        var views = new UpstreamView[Upstreams.Length];
        for (var i = 0; i < views.Length; i++)
        {
            var u = Upstreams[i];
            views[i] = new UpstreamView(u.Options.Tier, u.Options.Region, u.Options.Weight, Maintenance.IsDrained(Name, u.Name), u.Health.Snapshot());
        }

        return views;
    }

    /// <summary>Counts a request in flight on this generation's handlers, until <see cref="Exit"/>.</summary>
    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _retiring))
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Completes once no request is in flight here (slow uploads, streams and WebSockets included).</summary>
    public Task DrainedAsync()
    {
        Volatile.Write(ref _retiring, true);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        return _drained.Task;
    }

    private int _inFlight;
    private bool _retiring;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Dispose()
    {
        Invoker.Dispose();
        _handler.Dispose();
    }
}
