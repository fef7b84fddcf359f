using System.Net;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Mesh;
using Manypaths.Proxy;
using Manypaths.Routing;
using Manypaths.Service;
using Manypaths.Status;
using Manypaths.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Manypaths.Node;

/// <summary>
/// One running node: applies config generations, owns the listeners, probers and the admin API. A reload swaps the
/// generation atomically; in-flight requests finish on the generation they started with.
/// </summary>
internal sealed partial class NodeHost : IAsyncDisposable
{
    public static readonly IPEndPoint DefaultAdmin = new(IPAddress.Loopback, 7500);

    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly Dictionary<IPEndPoint, ListenerHost> _listeners = [];
    private readonly Dictionary<IPEndPoint, Tcp.TcpListenerHost> _tcpListeners = [];
    private readonly Dictionary<IPEndPoint, Dns.DnsFrontEnd> _dnsListeners = [];

    /// <summary>Each tcp service's live sessions, by service name, across generations (a reload keeps them judged).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Tcp.TcpConnections> _tcpSessions = new(StringComparer.Ordinal);
    private readonly ServiceProvider _services;
    private readonly IHttpForwarder _forwarder;
    private readonly ServiceRequestHandler _handler;
    private readonly HealthRegistry _health;
    private readonly ILogger _logger;
    private AdminServer? _admin;
    private MeshNode? _mesh;
    private RelayServer? _relayServer;
    private History.StatusRecorder? _recorder;
    private RelayContext? _relay;
    private RelayPaths? _relayPaths;
    private PeerSigner? _signer;
    private ManypathsConfig? _startConfig;
    private string? _fingerprint;
    private string? _listenError;
    private volatile NodeGeneration? _generation;
    private int _disposed;

    public NodeHost(string nodeName, TimeProvider time, ILoggerFactory loggers)
    {
        NodeName = nodeName;
        Time = time;
        Loggers = loggers;
        _logger = loggers.CreateLogger("Manypaths.Node");
        Metrics = new ManypathsMetrics();
        Telemetry.TcpGauges.Register(Metrics.Meter, () => _generation);
        Exporter = new PrometheusExporter(Metrics.Meter);
        Maintenance = new MaintenanceState(time, nodeName);
        _health = new HealthRegistry(time);
        _services = new ServiceCollection().AddSingleton(loggers).AddLogging().AddSingleton(time).AddHttpForwarder().BuildServiceProvider();
        _forwarder = _services.GetRequiredService<IHttpForwarder>();
        _handler = new ServiceRequestHandler(_forwarder, loggers.CreateLogger("Manypaths.Proxy"));
        StartedAt = time.GetUtcNow();
    }

    public string NodeName { get; }
    public TimeProvider Time { get; }
    public ILoggerFactory Loggers { get; }
    public ManypathsMetrics Metrics { get; }
    public PrometheusExporter Exporter { get; }
    public MaintenanceState Maintenance { get; }
    public DateTimeOffset StartedAt { get; }
    public NodeGeneration? Generation => _generation;

    /// <summary>Where the history goes, over status.data_dir (tests give each node a folder of its own).</summary>
    public string? HistoryDirectory { get; init; }

    /// <summary>History, incidents and alerts (null until the node started).</summary>
    public History.StatusRecorder? Recorder => _recorder;
    public string? LastReloadError { get; private set; }
    public DateTimeOffset? LastReloadAt { get; private set; }

    /// <summary>What the last reload could not apply until a restart (see <see cref="RestartOnlySettings"/>).</summary>
    public string? PendingRestart { get; private set; }
    public Uri? AdminUrl => _admin?.Url;
    public IReadOnlyCollection<IPEndPoint> ListenEndpoints => _listeners.Keys;
    public FaultInjector Faults { get; } = new();
    public MeshNode? Mesh => _mesh;

    /// <summary>Signs and checks peer traffic (null without a mesh).</summary>
    internal PeerSigner? Signer => _signer;

    /// <summary>Applies the first config and opens every listener; throws if a listener cannot bind.</summary>
    /// <param name="contentHash">The loader's hash of the config bytes (<see cref="ConfigLoadResult.ContentHash"/>), so a
    /// reload of the same file can say "unchanged"; without it the first reload always applies.</param>
    public async Task StartAsync(ManypathsConfig config, CancellationToken cancellationToken, string? contentHash = null)
    {
        if (config.Nodes.Count > 0 && !config.Nodes.ContainsKey(NodeName))
        {
            throw new InvalidOperationException($"Node '{NodeName}' is not declared under 'nodes' in {config.SourcePath} (declared: {string.Join(", ", config.Nodes.Keys)}).");
        }

        var node = config.NodeOrDefault(NodeName);
        var meshEndpoint = MeshEndpoint(node.Mesh);
        if (config.Nodes.Count > 1 && meshEndpoint is not null && config.Cluster.SecretFile is { } secret)
        {
            var signer = _signer = PeerSigner.FromFile(secret);
            var peers = config.Nodes.Values.Where(n => n.Name != NodeName && MeshEndpoint(n.Mesh) is not null).ToDictionary(n => n.Name, n => MeshEndpoint(n.Mesh)!);
            _mesh = new MeshNode(NodeName, meshEndpoint, peers, config.Mesh, signer, Faults, LocalViews, Maintenance, Time, Metrics, Loggers.CreateLogger("Manypaths.Mesh"));
            _relayPaths = new RelayPaths(_mesh, config.Nodes.Values.Where(n => peers.ContainsKey(n.Name)).ToDictionary(n => n.Name, n => n.Mesh!));
            _relay = new RelayContext(NodeName, signer, config.Mesh, Time);
            _relayServer = new RelayServer(NodeName, meshEndpoint, peers.Keys, signer, new ReplayGuard(config.Mesh.ReplayWindow, Time),
                name => _generation?.Http.GetValueOrDefault(name), name => _generation?.Tcp.GetValueOrDefault(name), _handler, Metrics, Loggers.CreateLogger("Manypaths.Mesh"));
            // What peers see of our upstreams are "probes" of the relayed paths; a peer gone rescues what waits on it.
            _mesh.ViewsReceived += (peer, views) =>
            {
                var services = _generation?.Services;
                foreach (var v in views)
                {
                    services?.GetValueOrDefault(v.Service)?.OnPeerView(peer, v.Upstream, v.State, v.LatencyMs);
                }
            };
            _mesh.PeerGone += peer =>
            {
                foreach (var core in _generation?.Services.Values ?? [])
                {
                    core.OnPeerGone(peer);
                }
            };
        }

        _recorder = new History.StatusRecorder(this, config);
        if (_relayServer is not null)
        {
            var book = _recorder.Incidents;
            _relayServer.IncidentsJson = () => History.IncidentExchange.Json(book.Share() with { ReloadError = LastReloadError, ReloadAt = LastReloadAt });
        }

        _startConfig = config;
        _fingerprint = contentHash is { Length: > 0 } ? ConfigFingerprint.Combine(contentHash, ConfigFingerprint.OfFiles(ConfigFingerprint.NamedFiles(config))) : null;
        await ApplyAsync(config, cancellationToken);
        if (_mesh is not null)
        {
            await _relayServer!.StartAsync(cancellationToken);
            _mesh.Start();
        }

        var adminEndpoint = node.Admin is { } a && ValueParsers.TryParseEndpoint($"{a.Host}:{a.Port}", out var ep) ? ep : DefaultAdmin;
        _admin = new AdminServer(this, adminEndpoint);
        await _admin.StartAsync(cancellationToken);
        _recorder.Start();
        Log.Started(_logger, NodeName, _admin.Url.ToString(), _listeners.Count);
    }

    /// <summary>
    /// Reads the config file again; a bad one is reported loudly (log, /api/status, status page) and the node keeps
    /// its last good config. Reloads run one at a time (SIGHUP and the file watcher can fire together), so the last
    /// to finish read the newest file. Never throws: every outcome is logged and kept in <see cref="LastReloadError"/>.
    /// </summary>
    /// <param name="reason">Who asked, for the log: SIGHUP, a file change, a test.</param>
    public async Task<ConfigLoadResult> ReloadAsync(string path, string reason, CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken);
        try
        {
            Log.ReloadRequested(_logger, reason);
            return await ReloadLockedAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A bug of ours must not end the reload silently: the operator still needs to hear that it failed.
            LastReloadAt = Time.GetUtcNow();
            LastReloadError = $"The reload failed: {e.GetType().Name}: {e.Message}";
            Metrics.ConfigReloads.Add(1, new KeyValuePair<string, object?>("result", "failed"));
            Log.ReloadRejected(_logger, LastReloadError);
            Log.KeepingLastGood(_logger, _generation?.Number ?? 0);
            return new ConfigLoadResult(null, [new ConfigError(path, 1, 1, LastReloadError)]);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    public Task<ConfigLoadResult> ReloadAsync(string path, CancellationToken cancellationToken) => ReloadAsync(path, "requested", cancellationToken);

    private async Task<ConfigLoadResult> ReloadLockedAsync(string path, CancellationToken cancellationToken)
    {
        if (Draining)
        {
            Log.ReloadIgnored(_logger);
            return new ConfigLoadResult(_generation?.Config, []);
        }

        // The files the live config names, hashed before the new file is read (see ConfigFingerprint).
        var namedFiles = ConfigFingerprint.OfFiles(_generation is { } live ? ConfigFingerprint.NamedFiles(live.Config) : []);
        var result = ConfigLoader.LoadFile(path);
        LastReloadAt = Time.GetUtcNow();
        foreach (var warning in result.Warnings.Take(ConfigError.ShownAtMost))
        {
            Log.ConfigWarning(_logger, warning.ToString());
        }

        if (!result.Ok)
        {
            LastReloadError = string.Join("\n", ConfigError.Lines(result.Errors));
            Metrics.ConfigReloads.Add(1, new KeyValuePair<string, object?>("result", "rejected"));
            foreach (var line in ConfigError.Lines(result.Errors))
            {
                Log.ReloadRejected(_logger, line);
            }

            Log.KeepingLastGood(_logger, _generation?.Number ?? 0);
            return result;
        }

        var fingerprint = ConfigFingerprint.Combine(result.ContentHash, namedFiles);
        if (fingerprint == _fingerprint)
        {
            // Same file and same secret, token and sorry files as the live generation: nothing to apply. A reload
            // error shown from an earlier, broken edit is over: the file is back to what is running.
            LastReloadError = null;
            Metrics.ConfigReloads.Add(1, new KeyValuePair<string, object?>("result", "unchanged"));
            Log.Unchanged(_logger, _generation!.Number);
            return result;
        }

        try
        {
            // Secret rotation: a bad file throws before anything changed; the new keys go live only with the rest.
            var keys = _signer is not null && result.Config!.Cluster.SecretFile is { } secret ? PeerSigner.ReadKeys(secret) : null;
            await ApplyAsync(result.Config!, cancellationToken);
            if (keys is not null)
            {
                _signer!.Use(keys);
            }

            // A listener that could not bind must be tried again by the next reload, even of the same file.
            _fingerprint = _listenError is null ? fingerprint : null;
            LastReloadError = _listenError;
            PendingRestart = _startConfig is null ? null : RestartOnlySettings.Changed(_startConfig, result.Config!, NodeName);
            if (PendingRestart is { } pending)
            {
                Log.RestartNeeded(_logger, pending);
            }

            Metrics.ConfigReloads.Add(1, new KeyValuePair<string, object?>("result", "applied"));
            Log.Reloaded(_logger, _generation!.Number);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            LastReloadError = e.Message;
            Metrics.ConfigReloads.Add(1, new KeyValuePair<string, object?>("result", "failed"));
            Log.ReloadRejected(_logger, e.Message);
        }

        return result;
    }

    private async Task ApplyAsync(ManypathsConfig config, CancellationToken cancellationToken)
    {
        await _applyLock.WaitAsync(cancellationToken);
        try
        {
            var previous = _generation;
            var node = config.NodeOrDefault(NodeName);
            var health = _health.Rebuild(config.Services.Values, out var created);
            foreach (var s in config.Services.Values)
            {
                foreach (var u in s.Upstreams)
                {
                    var h = health[(s.Name, u.Name)];
                    if (created.Contains(h))
                    {
                        var (service, upstream) = (s.Name, u.Name);
                        h.Transitioned += t => OnTransition(service, upstream, t);
                    }
                }
            }

            var cores = config.Services.Values.ToDictionary(s => s.Name, s => new ServiceCore(s, node, health,
                s.Relay && _relayPaths is not null ? (u, peer) => _health.Relayed(s, u, peer) : null,
                s.Relay ? _relayPaths : null, Maintenance, Metrics, Time, logger: Loggers.CreateLogger("Manypaths.Proxy")));
            var http = cores.Values.Where(c => c.Options.Mode == ServiceMode.Http)
                .ToDictionary(c => c.Name, c => new ServiceRuntime(c, Loggers, Faults) { Relay = c.Options.Relay ? _relay : null, Tally = _recorder?.TallyOrNull(c.Name) });
            var tcp = cores.Values.Where(c => c.Options.Mode == ServiceMode.Tcp)
                .ToDictionary(c => c.Name, c => new Tcp.TcpProxy(c, Faults, Loggers.CreateLogger("Manypaths.Tcp"), _tcpSessions.GetOrAdd(c.Name, _ => new Tcp.TcpConnections()))
                {
                    Relay = c.Options.Relay ? _relay : null,
                });
            var bindings = BuildBindings(config, http);
            var tcpBindings = tcp.Values.Where(t => t.Core.Options.Listen?.For(NodeName) is not null)
                .ToDictionary(t => t.Core.Options.Listen!.For(NodeName)!, t => t.Name);
            var probers = cores.Values.Select(c => (Prober: ProbeSet.Create(c, Time, Faults, Metrics, Loggers), Core: c)).ToList();

            var number = (previous?.Number ?? 0) + 1;
            var zones = config.Dns is { } dns
                ? new Dns.ZoneBook(dns, config.Services, number, new Dns.NodeEndpointViews(NodeName, () => _generation, () => _mesh), dns.Quorum ?? config.Cluster.Quorum, node.Region, time: Time)
                : null;
            var generation = new NodeGeneration(number, config, node, cores, http, tcp, bindings, tcpBindings,
                probers.Select(p => p.Prober.Prober).ToList(), Time.GetUtcNow(), zones);
            _generation = generation;
            _recorder?.Apply(config);

            // Listeners first: a node that cannot bind at start stops before it probed (and logged) anything.
            await SyncListenersAsync(bindings.Keys, previous is null, config.Cluster.ShutdownGrace, cancellationToken);
            SyncTcpListeners(tcpBindings.Keys, previous is null);
            SyncDnsListeners(config.Dns?.Listen.For(NodeName), previous is null);
            foreach (var (set, _) in probers)
            {
                set.Start();
            }

            if (previous is not null)
            {
                _ = RetireAsync(previous);
            }
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private static IPEndPoint? MeshEndpoint(Uri? mesh) =>
        mesh is not null && ValueParsers.TryParseEndpoint($"{mesh.Host}:{mesh.Port}", out var ep) ? ep : null;

    /// <summary>
    /// This node's direct view of every upstream of every service, for its heartbeats: peers need them for relay
    /// choices, the DNS quorum and the status page's quorum verdict.
    /// </summary>
    private IReadOnlyList<RemoteView> LocalViews()
    {
        var views = new List<RemoteView>();
        foreach (var s in _generation?.Services.Values ?? [])
        {
            foreach (var u in s.Upstreams)
            {
                var h = u.Health.Snapshot();
                views.Add(new RemoteView(s.Name, u.Name, h.State, double.IsNaN(h.LatencyMs) ? 0 : (float)h.LatencyMs, (float)h.SuccessRate));
            }
        }

        return views;
    }

    private Dictionary<IPEndPoint, ListenerBinding> BuildBindings(ManypathsConfig config, Dictionary<string, ServiceRuntime> services)
    {
        var bindings = new Dictionary<IPEndPoint, ListenerBinding>();
        foreach (var s in services.Values)
        {
            if (s.Options.Listen?.For(NodeName) is { } ep)
            {
                bindings[ep] = new ListenerBinding(s.Name, s.Name, null);
            }
        }

        foreach (var l in config.Listeners.Values)
        {
            if (l.Listen.For(NodeName) is { } ep)
            {
                bindings[ep] = new ListenerBinding(l.Name, null, new RouteTable(l.Routes));
            }
        }

        return bindings;
    }

    /// <summary>Opens the tcp services' new listen addresses and closes the ones no service has any more (their
    /// connections go on until they end).</summary>
    private void SyncTcpListeners(IEnumerable<IPEndPoint> wanted, bool firstStart)
    {
        var wantedSet = wanted.ToHashSet();
        foreach (var ep in wantedSet.Where(ep => !_tcpListeners.ContainsKey(ep)))
        {
            var host = new Tcp.TcpListenerHost(ep, AcceptTcpAsync);
            try
            {
                host.Start();
                _tcpListeners[ep] = host;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                _ = host.DisposeAsync().AsTask();
                var message = $"Cannot listen on {ep}: {e.Message}";
                if (firstStart)
                {
                    throw new IOException(message, e);
                }

                Log.ListenFailed(_logger, message);
                _listenError = message;
            }
        }

        foreach (var ep in _tcpListeners.Keys.Where(ep => !wantedSet.Contains(ep)).ToList())
        {
            _ = _tcpListeners[ep].DisposeAsync().AsTask();
            _tcpListeners.Remove(ep);
        }
    }

    /// <summary>Opens the DNS listen address (UDP and TCP) when it is new, closes an old one no longer configured.</summary>
    private void SyncDnsListeners(IPEndPoint? wanted, bool firstStart)
    {
        foreach (var ep in _dnsListeners.Keys.Where(ep => !ep.Equals(wanted)).ToList())
        {
            _dnsListeners[ep].Dispose();
            _dnsListeners.Remove(ep);
        }

        if (wanted is null || _dnsListeners.ContainsKey(wanted))
        {
            return;
        }

        var front = new Dns.DnsFrontEnd(wanted, () => _generation?.Dns, Metrics, Loggers.CreateLogger("Manypaths.Dns"), new Dns.ResponseRateLimiter(Time), Time);
        try
        {
            front.Start();
            _dnsListeners[wanted] = front;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            front.Dispose();
            var message = $"Cannot listen for DNS on {wanted}: {e.Message}";
            if (firstStart)
            {
                throw new IOException(message, e);
            }

            Log.ListenFailed(_logger, message);
            _listenError = message;
        }
    }

    private Task AcceptTcpAsync(IPEndPoint endpoint, System.Net.Sockets.Socket client)
    {
        var generation = _generation;
        if (Draining || generation is null || !generation.TcpBindings.TryGetValue(endpoint, out var name) || !generation.Tcp.TryGetValue(name, out var service))
        {
            client.Dispose();
            return Task.CompletedTask;
        }

        return service.ServeAsync(client);
    }

    private async Task SyncListenersAsync(IEnumerable<IPEndPoint> wanted, bool firstStart, TimeSpan grace, CancellationToken cancellationToken)
    {
        _listenError = null;
        var wantedSet = wanted.ToHashSet();
        foreach (var ep in wantedSet.Where(ep => !_listeners.ContainsKey(ep)))
        {
            var host = new ListenerHost(ep, DispatchAsync);
            try
            {
                await host.StartAsync(cancellationToken);
                _listeners[ep] = host;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // Kestrel turns "address in use" into an IOException; "permission denied" (a port below 1024) and
                // "address not available" arrive as a bare SocketException.
                await host.DisposeAsync();
                var message = $"Cannot listen on {ep}: {e.Message}";
                if (firstStart)
                {
                    throw new IOException(message, e);
                }

                Log.ListenFailed(_logger, message);
                _listenError = message;
            }
        }

        foreach (var ep in _listeners.Keys.Where(ep => !wantedSet.Contains(ep)).ToList())
        {
            var host = _listeners[ep];
            _listeners.Remove(ep);
            _ = Task.Run(async () =>
            {
                await host.StopAsync(grace);
                await host.DisposeAsync();
            }, CancellationToken.None);
        }
    }

    /// <summary>
    /// Stops the old generation's probers now and its HTTP handlers once every request that started on it has
    /// ended: after the longest 'request' timeout plus a second (by then no request still reaches it), each
    /// service waits for its last one (a slow upload, a stream, a WebSocket).
    /// </summary>
    private async Task RetireAsync(NodeGeneration old)
    {
        foreach (var s in old.Http.Values)
        {
            s.StopWarming(); // the new generation warms the same paths now
        }

        foreach (var p in old.Probers)
        {
            await p.DisposeAsync();
        }

        var longest = old.Services.Values.Select(s => s.Options.Timeouts.Request).DefaultIfEmpty(TimeSpan.Zero).Max();
        try
        {
            await Task.Delay(longest + TimeSpan.FromSeconds(1), Time, CancellationToken.None);
            await Task.WhenAll(old.Http.Values.Select(s => s.DrainedAsync()));
        }
        finally
        {
            Dispose(old);
        }
    }

    private static void Dispose(NodeGeneration generation)
    {
        foreach (var s in generation.Http.Values)
        {
            s.Dispose();
        }

        foreach (var t in generation.Tcp.Values)
        {
            t.Dispose();
        }

        foreach (var c in generation.Services.Values)
        {
            c.Dispose();
        }
    }

    private Task DispatchAsync(IPEndPoint endpoint, HttpContext context)
    {
        var generation = _generation;
        if (generation is null || !generation.Bindings.TryGetValue(endpoint, out var binding))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        }

        var name = binding.Resolve(context.Request.Host.Value ?? "", context.Request.Path.Value ?? "/");
        if (name is null || !generation.Http.TryGetValue(name, out var service))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.Headers["X-Manypaths-Reason"] = "no_route";
            return Task.CompletedTask;
        }

        return _handler.HandleAsync(context, service);
    }

    private void OnTransition(string service, string upstream, HealthTransition t)
    {
        Metrics.StateChanges.Add(1,
            new KeyValuePair<string, object?>("service", service),
            new KeyValuePair<string, object?>("upstream", upstream),
            new KeyValuePair<string, object?>("state", t.To.ToString().ToLowerInvariant()));
        if (t.From == HealthState.Unknown && t.To == HealthState.Up)
        {
            Log.FirstUp(_logger, service, upstream, t.Reason); // the normal start of every upstream: not news
        }
        else
        {
            Log.StateChanged(_logger, service, upstream, t.From, t.To, t.Reason);
        }
    }

    /// <summary>True from the moment a graceful stop began: /healthz answers 503 and peers are told.</summary>
    public bool Draining { get; private set; }

    /// <summary>
    /// Graceful stop: peers hear at once that this node is draining (they stop relaying through it), listeners stop
    /// accepting (new connections are refused) and requests and streams in flight, relayed ones too, get up to
    /// cluster.shutdown_grace to finish. <paramref name="now"/> cuts the wait short (a second signal).
    /// </summary>
    public async Task StopAsync(CancellationToken now = default)
    {
        var grace = _generation?.Config.Cluster.ShutdownGrace ?? TimeSpan.FromSeconds(10);
        Draining = true;
        Log.Stopping(_logger, NodeName, grace.TotalSeconds);
        _mesh?.AnnounceDraining();
        var started = Time.GetTimestamp();
        var drains = _listeners.Values.Select(l => l.StopAsync(grace, now)).ToList();
        drains.Add(DrainTcpAsync(grace, now));
        if (_relayServer is not null)
        {
            drains.Add(_relayServer.DrainAsync(grace, now));
        }

        await Task.WhenAll(drains);
        Log.Stopped(_logger, NodeName, Time.GetElapsedTime(started).TotalSeconds);
        if (_admin is not null)
        {
            await _admin.StopAsync();
        }
    }

    /// <summary>Stops accepting tcp clients; open connections get the grace to end, then are closed.</summary>
    private async Task DrainTcpAsync(TimeSpan grace, CancellationToken now)
    {
        foreach (var l in _tcpListeners.Values)
        {
            await l.DisposeAsync();
        }

        _tcpListeners.Clear();
        var services = _tcpSessions.Values.ToList();
        using var timeout = new CancellationTokenSource(grace, Time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(now, timeout.Token);
        try
        {
            while (services.Any(s => s.Count > 0))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), Time, deadline.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var s in services)
        {
            s.CloseAll("node stopping");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_recorder is not null)
        {
            await _recorder.DisposeAsync();
        }

        foreach (var l in _tcpListeners.Values)
        {
            await l.DisposeAsync();
        }

        _tcpListeners.Clear();
        foreach (var d in _dnsListeners.Values)
        {
            d.Dispose();
        }

        _dnsListeners.Clear();
        foreach (var t in _tcpSessions.Values)
        {
            t.CloseAll("node stopping");
        }

        foreach (var l in _listeners.Values)
        {
            await l.DisposeAsync();
        }

        _listeners.Clear();
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        if (_mesh is not null)
        {
            await _mesh.DisposeAsync();
        }

        if (_relayServer is not null)
        {
            await _relayServer.DisposeAsync();
        }

        if (_generation is { } g)
        {
            foreach (var p in g.Probers)
            {
                await p.DisposeAsync();
            }

            Dispose(g);
        }

        Exporter.Dispose();
        Metrics.Dispose();
        await _services.DisposeAsync();
        _applyLock.Dispose();
        _reloadLock.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "NodeStarted", Level = LogLevel.Information, Message = "Node {Node} started: admin API at {Admin}, {Listeners} listener(s)")]
        public static partial void Started(ILogger logger, string node, string admin, int listeners);

        [LoggerMessage(EventId = 3002, EventName = "ConfigReloaded", Level = LogLevel.Information, Message = "Config reloaded: generation {Generation} is live")]
        public static partial void Reloaded(ILogger logger, int generation);

        [LoggerMessage(EventId = 3003, EventName = "ConfigRejected", Level = LogLevel.Error, Message = "Config reload rejected: {Error}")]
        public static partial void ReloadRejected(ILogger logger, string error);

        [LoggerMessage(EventId = 3004, EventName = "KeepingLastGoodConfig", Level = LogLevel.Error, Message = "Still serving the last good config (generation {Generation})")]
        public static partial void KeepingLastGood(ILogger logger, int generation);

        [LoggerMessage(EventId = 3005, EventName = "UpstreamStateChanged", Level = LogLevel.Warning, Message = "Service {Service}: upstream {Upstream} {From} -> {To}: {Reason}")]
        public static partial void StateChanged(ILogger logger, string service, string upstream, HealthState from, HealthState to, string reason);

        [LoggerMessage(EventId = 3011, EventName = "ReloadRequested", Level = LogLevel.Information, Message = "Reloading the config ({Reason})")]
        public static partial void ReloadRequested(ILogger logger, string reason);

        [LoggerMessage(EventId = 3015, EventName = "ReloadIgnored", Level = LogLevel.Information, Message = "Not reloading: this node is shutting down")]
        public static partial void ReloadIgnored(ILogger logger);

        [LoggerMessage(EventId = 3012, EventName = "ConfigUnchanged", Level = LogLevel.Information, Message = "The config and the files it names are unchanged: generation {Generation} stays live")]
        public static partial void Unchanged(ILogger logger, int generation);

        [LoggerMessage(EventId = 3013, EventName = "ConfigWarning", Level = LogLevel.Warning, Message = "Config warning: {Warning}")]
        public static partial void ConfigWarning(ILogger logger, string warning);

        [LoggerMessage(EventId = 3014, EventName = "UpstreamUp", Level = LogLevel.Information, Message = "Service {Service}: upstream {Upstream} is up: {Reason}")]
        public static partial void FirstUp(ILogger logger, string service, string upstream, string reason);

        [LoggerMessage(EventId = 3006, EventName = "ListenFailed", Level = LogLevel.Error, Message = "{Message}")]
        public static partial void ListenFailed(ILogger logger, string message);

        [LoggerMessage(EventId = 3008, EventName = "RestartNeeded", Level = LogLevel.Warning, Message = "{Message}")]
        public static partial void RestartNeeded(ILogger logger, string message);

        [LoggerMessage(EventId = 3007, EventName = "NodeStopping", Level = LogLevel.Information, Message = "Node {Node} stopping: refusing new connections, telling peers, finishing in-flight requests for up to {GraceSeconds}s")]
        public static partial void Stopping(ILogger logger, string node, double graceSeconds);

        [LoggerMessage(EventId = 3009, EventName = "NodeDrained", Level = LogLevel.Information, Message = "Node {Node} drained in {Seconds:0.0}s")]
        public static partial void Stopped(ILogger logger, string node, double seconds);
    }
}
