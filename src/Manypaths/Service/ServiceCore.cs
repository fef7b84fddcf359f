using System.Collections.Concurrent;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Proxy;
using Manypaths.Routing;
using Manypaths.Telemetry;

namespace Manypaths.Service;

/// <summary>
/// Everything one service is on this node for one config generation, whatever its protocol: upstreams and their
/// health, relayed paths and theirs, drains and maintenance, the retry and hedge budgets, what every path usually
/// takes, the attempts waiting on each path, the chooser and the attempt loop. HTTP is one front end on it
/// (Proxy/ServiceRuntime); TCP and DNS front ends plug in the same way (docs/design/service-core.md).
/// </summary>
internal sealed class ServiceCore : IDisposable
{
    private readonly ConcurrentDictionary<PathKey, LatencyWindow> _firstByte = new();
    private readonly ConcurrentDictionary<string, LatencyWindow> _connect = new(StringComparer.Ordinal);
    /// <summary>Per upstream endpoint (host:port); peers' mesh addresses have none.</summary>
    private readonly Dictionary<string, CloseBurst> _closes;
    private readonly List<(UpstreamHealth Health, Action<HealthTransition> Handler)> _subscriptions = [];
    private readonly RelayPathBook _relayHealth;
    private readonly KeyValuePair<string, object?> _serviceTag;

    /// <param name="health">The direct path health of every upstream, from the node's registry (kept across reloads).</param>
    /// <param name="relayHealth">Makes (or finds) the health of a relayed path; null when the service does not relay.</param>
    /// <param name="relays">The mesh's relayed paths; null when the service does not relay or the node has no peers.</param>
    public ServiceCore(
        ServiceOptions options,
        NodeOptions node,
        IReadOnlyDictionary<(string Service, string Upstream), UpstreamHealth> health,
        Func<UpstreamOptions, string, UpstreamHealth>? relayHealth,
        IRelayCandidates? relays,
        MaintenanceState maintenance,
        ManypathsMetrics metrics,
        TimeProvider time,
        Random? random = null,
        Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        Options = options;
        Node = node;
        Maintenance = maintenance;
        Metrics = metrics;
        Time = time;
        _serviceTag = new("service", options.Name);
        Upstreams = options.Upstreams.Select((u, i) => new UpstreamCore(i, u, health[(options.Name, u.Name)])).ToArray();
        _closes = Upstreams.Select(u => u.Endpoint).Distinct(StringComparer.Ordinal).ToDictionary(e => e, _ => new CloseBurst(time), StringComparer.Ordinal);
        _relayHealth = new RelayPathBook(
            (i, peer) => relayHealth?.Invoke(options.Upstreams[i], peer) ?? new UpstreamHealth(options.Health, options.Passive, time),
            (i, peer, t) => OnPathTransition(new PathKey(i, peer), t));
        Chooser = new PathChooser(options.Name, Upstreams.Select(u => new ChooserUpstream(u.Name, u.Options.Tier, u.Options.Region, u.Options.Weight, u.Health)).ToArray(),
            i => maintenance.IsDrained(options.Name, Upstreams[i].Name), _relayHealth.Get, relays, options.RelayPolicy, node.Region, random,
            strict: options.Health.Check.IsRoleCheck());
        Budget = new RetryBudget(options.Retry.BudgetRatio, options.Retry.BudgetMinPerSecond, time);
        if (options.Health.Check.IsRoleCheck())
        {
            var check = options.Health;
            Roles = new Health.Roles.RoleBoard(check.Check, check.MaxLagBytes, Upstreams.Select(u => (u.Name, u.Endpoint)).ToArray(), time,
                (check.Interval * 3) + check.Timeout);
        }

        Loop = new AttemptLoop(this);
        Wakeups = new WakeTimer(time);
        foreach (var u in Upstreams)
        {
            var index = u.Index;
            Action<HealthTransition> handler = t => OnPathTransition(new PathKey(index, null), t);
            u.Health.Transitioned += handler;
            _subscriptions.Add((u.Health, handler));
        }
    }

    public string Name => Options.Name;
    public ServiceOptions Options { get; }
    public NodeOptions Node { get; }
    public MaintenanceState Maintenance { get; }
    public ManypathsMetrics Metrics { get; }
    public TimeProvider Time { get; }
    public UpstreamCore[] Upstreams { get; }
    public PathChooser Chooser { get; }
    public AttemptLoop Loop { get; }

    /// <summary>The one timer that wakes this service's request loops for hedges and races.</summary>
    public WakeTimer Wakeups { get; }
    public RetryBudget Budget { get; }
    public HedgeBudget Hedges { get; } = new();
    public InFlightAttempts InFlight { get; } = new();

    /// <summary>Where the attempt loop says, at debug level, what it started and why.</summary>
    public Microsoft.Extensions.Logging.ILogger Logger { get; }

    /// <summary>A path (direct, or through a peer) was judged down: a front end with long-lived connections on it acts.</summary>
    public event Action<PathKey>? PathWentDown;

    /// <summary>A path (direct, or through a peer) became usable: a front end holding clients for one tries again.</summary>
    public event Action<PathKey>? PathCameUp;

    private void OnPathTransition(PathKey path, HealthTransition t)
    {
        if (t.To == HealthState.Down)
        {
            InFlight.PathDown(path);
            PathWentDown?.Invoke(path);
        }
        else if (t.To is HealthState.Up or HealthState.Suspect)
        {
            PathCameUp?.Invoke(path);
        }
    }

    /// <summary>What each upstream says it is, for role-checked services (null otherwise).</summary>
    public Health.Roles.RoleBoard? Roles { get; }

    /// <summary>Time to first byte of a path's recent answers (the hedge delay follows its p95).</summary>
    public LatencyWindow FirstByteWindow(PathKey path) => _firstByte.GetOrAdd(path, _ => new LatencyWindow());

    /// <summary>Connect times to an endpoint (host:port), direct or a peer's mesh address (the race delay follows them).</summary>
    public LatencyWindow ConnectWindow(string endpoint) => _connect.GetOrAdd(endpoint, _ => new LatencyWindow());

    /// <summary>
    /// A connection to <paramref name="endpoint"/> was closed by the other side while a request on it waited for its
    /// answer. <see cref="CloseBurst.Count"/> of them within <see cref="CloseBurst.Window"/> eject the upstreams there
    /// at once (<see cref="RequestOutcome.Gone"/>): the requests still waiting on them are rescued, and new ones go
    /// elsewhere, a round trip before the first refused connect would have said so. Peers' mesh addresses are not
    /// upstreams: the mesh's own heartbeats judge those.
    /// </summary>
    public void ClosedUnderRequest(string endpoint)
    {
        if (!_closes.TryGetValue(endpoint, out var burst) || !burst.Add())
        {
            return;
        }

        foreach (var u in Upstreams)
        {
            if (u.Endpoint == endpoint)
            {
                u.Health.ReportRequest(RequestOutcome.Gone, TimeSpan.Zero,
                    $"it closed {CloseBurst.Count} connections within {CloseBurst.Window.TotalMilliseconds:0} ms while requests on them waited");
            }
        }
    }

    /// <summary>The health of the path to upstream <paramref name="upstream"/> through <paramref name="peer"/>.</summary>
    public UpstreamHealth RelayHealth(int upstream, string peer) => _relayHealth.Get(upstream, peer);

    /// <summary>A request arrived: it tops up the retry and hedge budgets.</summary>
    public void RecordRequest()
    {
        Budget.RecordRequest();
        Hedges.RecordRequest();
    }

    /// <summary>A peer's heartbeat said how it sees one of this service's upstreams: a "probe" of that relayed path.</summary>
    public void OnPeerView(string peer, string upstream, HealthState state, double latencyMs)
    {
        var index = Array.FindIndex(Upstreams, u => u.Name == upstream);
        // A peer that has not probed yet (Unknown) says nothing about the path: not a failed probe.
        if (index >= 0 && Options.Relay && state != HealthState.Unknown)
        {
            RelayHealth(index, peer).ReportProbe(state is HealthState.Up or HealthState.Suspect, TimeSpan.FromMilliseconds(latencyMs), $"{peer} sees {upstream} {state.ToString().ToLowerInvariant()}");
        }
    }

    /// <summary>The link to a peer went down or the peer is draining: attempts through it start again elsewhere.</summary>
    public void OnPeerGone(string peer) => InFlight.PeerDown(peer);

    public bool WithdrawRetry()
    {
        if (Budget.TryWithdraw())
        {
            return true;
        }

        Metrics.RetriesDenied.Add(1, _serviceTag);
        return false;
    }

    public void Count(AttemptKind kind)
    {
        if (kind == AttemptKind.Race)
        {
            Metrics.Races.Add(1, _serviceTag);
        }
    }

    public void CountHedge(string result) => Metrics.Hedges.Add(1, _serviceTag, new KeyValuePair<string, object?>("result", result));

    public void CountRescue() => Metrics.Rescues.Add(1, _serviceTag);

    public void CountSilenceNotJudged(string reason) =>
        Metrics.SilenceNotJudged.Add(1, _serviceTag, new KeyValuePair<string, object?>("reason", reason));

    public void CountQuiet() => Metrics.PathsQuiet.Add(1, _serviceTag);

    public void CountRetry(string reason) => Metrics.Retries.Add(1, _serviceTag, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose()
    {
        foreach (var (health, handler) in _subscriptions)
        {
            health.Transitioned -= handler;
        }

        _relayHealth.Dispose();
        Wakeups.Dispose();
    }
}
