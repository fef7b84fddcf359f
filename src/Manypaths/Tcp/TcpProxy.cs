using System.Net;
using System.Net.Sockets;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Routing;
using Manypaths.Service;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tcp;

/// <summary>
/// The TCP front end of one service for one config generation, on its <see cref="ServiceCore"/>: takes a client
/// connection (within the limits), connects it to the path the chooser gives (the attempt loop races and retries
/// connects), waits for an upstream to become fit when none is (a new primary being promoted) up to
/// 'timeouts.connect', then joins the two. When a role-checked upstream goes down (it lost its role, or stopped
/// answering), its connections are closed at once, or after the read service's grace.
/// </summary>
internal sealed partial class TcpProxy : IDisposable
{
    private readonly ServiceCore _core;
    private readonly Mesh.FaultInjector? _faults;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _fitChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly KeyValuePair<string, object?> _serviceTag;

    /// <param name="connections">The service's live sessions, kept by the node across generations.</param>
    public TcpProxy(ServiceCore core, Mesh.FaultInjector? faults, ILogger logger, TcpConnections connections)
    {
        Connections = connections;
        _core = core;
        _faults = faults;
        _logger = logger;
        _serviceTag = new("service", core.Name);
        core.PathCameUp += OnPathUp;

        if (core.Roles is { } roles)
        {
            roles.SplitBrainChanged += OnSplitBrain;
            core.PathWentDown += OnPathDown;
        }
    }

    private void OnSplitBrain(string? split)
    {
        if (split is null)
        {
            Log.SplitOver(_logger, Name);
            Interlocked.Exchange(ref _fitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
        else
        {
            Log.Split(_logger, Name, split);
        }
    }

    public ServiceCore Core => _core;

    /// <summary>Set when the service has relay: true and this node is part of a mesh: how to sign a tunnel for a peer.</summary>
    public Mesh.RelayContext? Relay { get; init; }
    public string Name => _core.Name;
    public TcpConnections Connections { get; }

    /// <summary>Serves one accepted client connection until it ends; never throws.</summary>
    public async Task ServeAsync(Socket client)
    {
        var clientAddress = (client.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "?";
        var tcp = _core.Options.Tcp;
        if (!Connections.TryEnter(clientAddress, tcp.MaxConnections, tcp.MaxPerClient))
        {
            Accepted("over_limit");
            Log.OverLimit(_logger, Name, clientAddress, tcp.MaxConnections, tcp.MaxPerClient);
            Reset(client);
            return;
        }

        try
        {
            if (_core.Maintenance.Maintenance(Name) is not null)
            {
                Accepted("maintenance");
                Reset(client);
                return;
            }

            var (upstream, path) = await ConnectAsync();
            if (upstream is null)
            {
                Accepted("no_upstream");
                Log.NoUpstream(_logger, Name, ValueParsers.FormatDuration(_core.Options.Timeouts.Connect), _core.Roles?.SplitBrain is { } split ? $" ({split})" : "");
                Reset(client);
                return;
            }

            Accepted("connected");
            var session = new TcpSession(new NetworkStream(client, ownsSocket: false), client, upstream, path!.Value, _core.Upstreams[path.Value.Upstream].Name, _core.Options.Timeouts.Idle, _core.Time, _faults);
            Connections.Add(session);
            try
            {
                // A demotion between the connect and here would have missed this session: check its path once more.
                if (_core.Roles is not null && _core.Chooser.HealthOf(session.Path).State == HealthState.Down)
                {
                    session.Close("demoted");
                }

                await session.RunAsync();
            }
            finally
            {
                Connections.Remove(session);
                if (session.ClosedBecause is { } why)
                {
                    _core.Metrics.TcpClosed.Add(1, _serviceTag, new KeyValuePair<string, object?>("reason", why));
                }
            }
        }
        catch (Exception e)
        {
            // A bug of ours must not take the listener down; the client gets a reset.
            Log.Failed(_logger, Name, e.Message);
            Reset(client);
        }
        finally
        {
            Connections.Leave(clientAddress);
        }
    }

    /// <summary>
    /// A peer's tunnel for <paramref name="upstream"/> (already authenticated by the relay server): connects to that
    /// upstream directly, once (a relayed connection is pinned: never relayed again), answers 101 and joins the
    /// tunnel to it, or answers 502 with X-Manypaths-Unreached so the origin tries another path at once.
    /// </summary>
    public async Task ServeRelayedAsync(Microsoft.AspNetCore.Http.HttpContext context, int upstream)
    {
        var upgrade = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true }
            || !string.Equals(context.Request.Headers.Upgrade.ToString(), RelayTunnel.Protocol, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"a tcp service is relayed only as an Upgrade: {RelayTunnel.Protocol} tunnel");
            return;
        }

        var history = new AttemptHistory { Pinned = upstream, HopsLeft = 0 };
        using var deadline = new CancellationTokenSource(_core.Options.Timeouts.Connect, _core.Time);
        LoopResult<UpstreamConnection> result;
        try
        {
            result = await _core.Loop.RunAsync(new TcpAttempts(_core, _faults, null, 0), history, deadline.Token);
        }
        catch (OperationCanceledException)
        {
            result = default;
        }

        if (result.Value is not { } connection)
        {
            context.Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status502BadGateway;
            context.Response.Headers[Mesh.RelayHeaders.Unreached] = "1";
            await context.Response.WriteAsync($"{_core.Upstreams[upstream].Name} is not reachable from here");
            return;
        }

        Stream tunnel;
        try
        {
            tunnel = await upgrade.UpgradeAsync();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            connection.Dispose(); // the origin went away (it lost a connect race, say): close what we opened for it
            return;
        }

        var session = new TcpSession(tunnel, null, connection, new PathKey(upstream, null), _core.Upstreams[upstream].Name, _core.Options.Timeouts.Idle, _core.Time);
        Connections.Add(session);
        try
        {
            await session.RunAsync();
        }
        finally
        {
            Connections.Remove(session);
        }
    }

    /// <summary>
    /// A connected upstream, or null when nothing became fit within 'timeouts.connect'. A read service tries
    /// replicas first and the primary only when no replica is fit.
    /// </summary>
    private async Task<(UpstreamConnection? Connection, PathKey? Path)> ConnectAsync()
    {
        using var deadline = new CancellationTokenSource(_core.Options.Timeouts.Connect, _core.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, _stop.Token);
        try
        {
            while (true)
            {
                var changed = Volatile.Read(ref _fitChanged).Task;
                var roles = _core.Roles;
                var readService = _core.Options.Health.Check.WantsReplica();
                // Two primaries: the first one's health is still Up until its next check, but no write may go anywhere.
                var refused = roles?.SplitBrain is not null && !readService;
                for (var pass = readService ? 0 : 1; pass < 2 && !refused; pass++)
                {
                    var history = new AttemptHistory { HopsLeft = Relay?.Options.HopLimit ?? 0 };
                    if (pass == 0)
                    {
                        for (var i = 0; i < _core.Upstreams.Length; i++)
                        {
                            if (roles!.SaysPrimary(i))
                            {
                                history.Avoid(i);
                            }
                        }
                    }

                    var result = await _core.Loop.RunAsync(new TcpAttempts(_core, _faults, Relay, history.HopsLeft), history, linked.Token);
                    if (result.Value is { } connection)
                    {
                        return (connection, result.ServedBy!.Key);
                    }
                }

                await changed.WaitAsync(linked.Token); // wait for an upstream to become fit (or a path to come back)
            }
        }
        catch (OperationCanceledException)
        {
            return (null, null);
        }
    }

    /// <summary>A path became usable, direct or through a peer: clients held for an upstream try again.</summary>
    private void OnPathUp(PathKey path) =>
        Interlocked.Exchange(ref _fitChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>A role-checked path went down (its upstream lost its role, or stopped answering): its connections go.</summary>
    private void OnPathDown(PathKey path)
    {
        var upstream = _core.Upstreams[path.Upstream].Name;
        var name = upstream + (path.Peer is { } peer ? $" via {peer}" : "");
        var reason = _core.Chooser.HealthOf(path).Snapshot().Reason;
        if (_core.Options.Tcp.DemotionGrace is { } grace)
        {
            Log.Demoted(_logger, Name, name, Connections.On(upstream, path.Peer), $"in {ValueParsers.FormatDuration(grace)}", reason);
            _ = CloseLaterAsync(path, grace);
            return;
        }

        var closed = Connections.CloseAll(upstream, path.Peer, "demoted");
        Log.Demoted(_logger, Name, name, closed, "now", reason);
    }

    private async Task CloseLaterAsync(PathKey path, TimeSpan grace)
    {
        try
        {
            await Task.Delay(grace, _core.Time, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // Back and fit again within the grace: its connections are fine.
        if (_core.Chooser.HealthOf(path).State == HealthState.Down)
        {
            Connections.CloseAll(_core.Upstreams[path.Upstream].Name, path.Peer, "demoted");
        }
    }

    private void Accepted(string result) => _core.Metrics.TcpAccepted.Add(1, _serviceTag, new KeyValuePair<string, object?>("result", result));

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    /// <summary>The generation is retired: stop waiting for upstreams (its open sessions go on until they end).</summary>
    public void Dispose()
    {
        _core.PathCameUp -= OnPathUp;

        if (_core.Roles is { } roles)
        {
            roles.SplitBrainChanged -= OnSplitBrain;
            _core.PathWentDown -= OnPathDown;
        }

        _stop.Cancel();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, EventName = "TcpOverLimit", Level = LogLevel.Warning,
            Message = "Service {Service}: connection from {Client} closed: over the limit ({Max} per service, {PerClient} per client)")]
        public static partial void OverLimit(ILogger logger, string service, string client, int max, int perClient);

        [LoggerMessage(EventId = 3102, EventName = "TcpNoUpstream", Level = LogLevel.Warning,
            Message = "Service {Service}: no upstream became fit within {Wait}; connection closed{SplitBrain}")]
        public static partial void NoUpstream(ILogger logger, string service, string wait, string splitBrain);

        [LoggerMessage(EventId = 3103, EventName = "TcpDemoted", Level = LogLevel.Warning,
            Message = "Service {Service}: {Upstream} is down ({Reason}); closing its {Count} connection(s) {When}")]
        public static partial void Demoted(ILogger logger, string service, string upstream, int count, string when, string reason);

        [LoggerMessage(EventId = 3105, EventName = "SplitBrain", Level = LogLevel.Error,
            Message = "Service {Service}: two primaries: {Split}")]
        public static partial void Split(ILogger logger, string service, string split);

        [LoggerMessage(EventId = 3106, EventName = "SplitBrainOver", Level = LogLevel.Warning,
            Message = "Service {Service}: one primary again; writes flow")]
        public static partial void SplitOver(ILogger logger, string service);

        [LoggerMessage(EventId = 3104, EventName = "TcpFailed", Level = LogLevel.Error,
            Message = "Service {Service}: serving a connection failed: {Error}")]
        public static partial void Failed(ILogger logger, string service, string error);
    }
}
