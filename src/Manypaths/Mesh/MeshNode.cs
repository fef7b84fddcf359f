using System.Net;
using System.Net.Sockets;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;

namespace Manypaths.Mesh;

/// <summary>
/// The UDP side of the peer channel. Every heartbeat this node sends every peer a small signed ping (answered by a
/// pong: RTT and loss) and its state (direct views, operator switches, its link row) in datagrams that are never
/// IP-fragmented (<see cref="StateChunks"/>). It keeps link health per peer and the newest views of every peer.
/// A malformed, unsigned, foreign, stale or replayed datagram is dropped and counted; it never stops the loop.
/// </summary>
internal sealed partial class MeshNode : IAsyncDisposable
{
    private readonly string _self;
    private readonly Socket _socket;
    private readonly IReadOnlyDictionary<string, IPEndPoint> _peers;
    private readonly MeshOptions _options;
    private readonly PeerSigner _signer;
    private readonly FaultInjector _faults;
    private readonly Func<IReadOnlyList<RemoteView>> _localViews;
    private readonly TimeProvider _time;
    private readonly ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Dictionary<string, PeerLink> _links;
    private readonly Dictionary<string, HeartbeatGate> _gates;
    private readonly PeerTransitions _transitions;

    /// <summary>The newest switch each peer reported, per key: which nodes have applied an operator's change.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Peer, Maintenance.SwitchKind Kind, string Service, string Upstream), Maintenance.SwitchEntry> _peerSwitches = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly long _boot;
    private readonly Maintenance.MaintenanceState _switches;
    private Task? _send;
    private Task? _receive;
    private ulong _seq;

    public MeshNode(string self, IPEndPoint bind, IReadOnlyDictionary<string, IPEndPoint> peers, MeshOptions options, PeerSigner signer,
        FaultInjector faults, Func<IReadOnlyList<RemoteView>> localViews, Maintenance.MaintenanceState switches, TimeProvider time, ManypathsMetrics metrics, ILogger logger)
    {
        _switches = switches;
        _self = self;
        _peers = peers;
        _options = options;
        _signer = signer;
        _faults = faults;
        _localViews = localViews;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _boot = time.GetUtcNow().ToUnixTimeMilliseconds();
        _links = peers.Keys.ToDictionary(p => p, _ => new PeerLink(options, time));
        _gates = peers.Keys.ToDictionary(p => p, _ => new HeartbeatGate(options.ReplayWindow, options.DeadAfter));
        _transitions = new PeerTransitions(time, logger);
        Views = new PeerViews(time, 3 * options.DeadAfter);
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _socket.Bind(bind);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new IOException($"Cannot use the mesh address {bind} (UDP heartbeats): {e.Message}.", e);
        }

        _switches.Changed += OnSwitchChanged;
    }

    /// <summary>A switch set here, or newly learnt from a peer, goes out now: every node has it within one round trip.</summary>
    private void OnSwitchChanged(Maintenance.SwitchEntry entry) => Wake();

    /// <summary>The newest switch of <paramref name="entry"/>'s key that <paramref name="peer"/> reported, if any.</summary>
    public Maintenance.SwitchEntry? ReportedSwitch(string peer, Maintenance.SwitchEntry entry) =>
        _peerSwitches.TryGetValue((peer, entry.Kind, entry.Service, entry.Upstream), out var theirs) ? theirs : null;

    /// <summary>True once <see cref="AnnounceDraining"/> was called: every ping says so from then on.</summary>
    public bool Draining => _draining;

    /// <summary>
    /// This node is shutting down: tell every peer at once (not at the next heartbeat), so they stop relaying
    /// through it while it finishes what it has.
    /// </summary>
    public void AnnounceDraining()
    {
        _draining = true;
        Wake();
    }

    /// <summary>Sends the next heartbeat now instead of when the interval ends.</summary>
    public void Wake()
    {
        Interlocked.Exchange(ref _wakePending, 1);
        try
        {
            Volatile.Read(ref _nap)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That nap is over already; the pending flag makes the loop go round at once.
        }
    }

    /// <summary>A peer's state datagram brought its views of its upstreams (raised on the receive loop).</summary>
    public event Action<string, IReadOnlyList<RemoteView>>? ViewsReceived;

    /// <summary>A peer stopped being usable for relaying: its link went down, or it announced it is draining.</summary>
    public event Action<string>? PeerGone;

    /// <summary>Peers' views outlive a few lost state datagrams, not a peer that stopped reporting one.</summary>
    public PeerViews Views { get; }

    /// <summary>The other nodes' rows of the peer link matrix, from their heartbeats.</summary>
    public LinkMatrix Matrix { get; } = new();

    public IReadOnlyCollection<string> Peers => _peers.Keys.ToList();

    public LinkSnapshot Link(string peer) => _links.TryGetValue(peer, out var l) ? l.Snapshot() : new LinkSnapshot(LinkState.Unknown, double.NaN, 0, null);

    public void Start()
    {
        _send = Task.Run(() => SendLoopAsync(_stop.Token));
        _receive = Task.Run(() => ReceiveLoopAsync(_stop.Token));
    }

    private async Task SendLoopAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _wakePending, 0);
                var seq = ++_seq;
                var sent = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var flags = _draining ? PingFlags.Draining : PingFlags.None;
                var ping = new HeartbeatMessage(HeartbeatKind.Ping, _self, seq, _boot, sent) { Flags = flags }.Encode(_signer);
                foreach (var (name, endpoint) in _peers)
                {
                    _links[name].PingSent(seq);
                    await SendAsync(ping, endpoint, HeartbeatKind.Ping, stop);
                }

                var links = _links.Select(l =>
                {
                    var link = l.Value.Snapshot();
                    if (_transitions.Observe(l.Key, link))
                    {
                        PeerGone?.Invoke(l.Key);
                    }

                    return new LinkReport(l.Key, link.State, (float)link.RttMs, (float)link.Loss);
                }).ToList();
                var state = StateChunks.Encode(_self, seq, _boot, sent, links, _switches.Snapshot(), _localViews(), _signer);
                if (!_oversizeLogged && state[0].Length > StateChunks.Budget)
                {
                    _oversizeLogged = true;
                    Log.Oversize(_logger, state[0].Length, StateChunks.Budget, links.Count);
                }
                foreach (var endpoint in _peers.Values)
                {
                    foreach (var part in state)
                    {
                        await SendAsync(part, endpoint, HeartbeatKind.State, stop);
                    }
                }

                await NapAsync(stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Waits one heartbeat interval, or less if <see cref="Wake"/> is called meanwhile.</summary>
    private async Task NapAsync(CancellationToken stop)
    {
        using var nap = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // Full fences on both sides (here and in Wake): either this loop sees the pending flag, or Wake sees the nap.
        Interlocked.Exchange(ref _nap, nap);
        try
        {
            if (Volatile.Read(ref _wakePending) == 0)
            {
                await Task.Delay(_options.Heartbeat, _time, nap.Token);
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // Woken early.
        }
        finally
        {
            Interlocked.Exchange(ref _nap, null);
        }
    }

    private static readonly KeyValuePair<string, object?>[] KindTags =
        [new("kind", "none"), new("kind", "ping"), new("kind", "pong"), new("kind", "state")];

    private async Task SendAsync(byte[] packet, IPEndPoint to, HeartbeatKind kind, CancellationToken stop)
    {
        if (_faults.Drops(to.Address.ToString(), to.Port))
        {
            return; // lost on the (simulated) wire, after it was sent
        }

        try
        {
            await _socket.SendToAsync(packet, SocketFlags.None, to, stop);
            _metrics.HeartbeatsSent.Add(1, KindTags[(int)kind]);
            _metrics.HeartbeatBytesSent.Add(packet.Length);
        }
        catch (SocketException)
        {
            // A peer that is down answers with ICMP unreachable; the missing pong already says so.
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken stop)
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!stop.IsCancellationRequested)
        {
            SocketReceiveFromResult got;
            try
            {
                got = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            var from = (IPEndPoint)got.RemoteEndPoint;
            if (_faults.Drops(from.Address.ToString(), from.Port))
            {
                continue; // inbound loss on this link
            }

            try
            {
                Handle(buffer.AsSpan(0, got.ReceivedBytes), from, stop);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A datagram the decoder took but the state could not (a bug, or a peer's): drop it, keep listening.
                Drop("malformed");
                Log.HandleFailed(_logger, e.Message);
            }
        }
    }

    private void Handle(ReadOnlySpan<byte> packet, IPEndPoint from, CancellationToken stop)
    {
        var message = HeartbeatMessage.Decode(packet, _signer, out var authentic);
        if (message is null)
        {
            if (authentic && packet[2] != HeartbeatMessage.Format)
            {
                // Signed with our secret but another wire format: a node of another version, not an intruder.
                Drop("other_format");
                if (!_otherFormatLogged)
                {
                    _otherFormatLogged = true;
                    Log.OtherFormat(_logger, from.ToString(), packet[2], HeartbeatMessage.Format);
                }

                return;
            }

            Drop(authentic ? "malformed" : "unauthenticated");
            return;
        }

        if (!_links.TryGetValue(message.From, out var link))
        {
            Drop("unknown_peer");
            return;
        }

        var now = _time.GetUtcNow();
        switch (message.Kind)
        {
            case HeartbeatKind.Pong:
                // A pong names the boot of the ping it answers: one captured before this node restarted (when its
                // sequence numbers started again) must not pass for an answer now. Only an outstanding ping counts.
                if (message.Boot != _boot || !_gates[message.From].InWindow(message, now))
                {
                    Drop("stale");
                    return;
                }

                link.PongReceived(message.Seq);
                return;
            case HeartbeatKind.Ping:
                if (!Taken(_gates[message.From].TakePing(message, now), message, now))
                {
                    return;
                }

                var draining = message.Flags.HasFlag(PingFlags.Draining);
                var wasDraining = link.Snapshot().Draining;
                link.Heard(draining);
                if (draining && !wasDraining)
                {
                    PeerGone?.Invoke(message.From); // at once: attempts relayed through it start again elsewhere
                }

                var pong = new HeartbeatMessage(HeartbeatKind.Pong, _self, message.Seq, message.Boot, now.ToUnixTimeMilliseconds());
                _ = SendAsync(pong.Encode(_signer), _peers[message.From], HeartbeatKind.Pong, stop);
                return;
            default:
                if (!Taken(_gates[message.From].TakeState(message, now), message, now))
                {
                    return;
                }

                Views.Merge(message.From, message.Views);
                ViewsReceived?.Invoke(message.From, message.Views);
                _switches.Merge(message.Switches);
                foreach (var e in message.Switches)
                {
                    _peerSwitches.AddOrUpdate((message.From, e.Kind, e.Service, e.Upstream), e, (_, old) => e.NewerThan(old) ? e : old);
                }

                if (message.Links.Count > 0)
                {
                    Matrix.Update(message.From, message.Boot, message.Seq, message.Links, now);
                }

                return;
        }
    }

    private bool Taken(GateVerdict verdict, HeartbeatMessage message, DateTimeOffset now)
    {
        if (verdict == GateVerdict.Taken)
        {
            return true;
        }

        if (verdict == GateVerdict.OutOfWindow)
        {
            Drop("out_of_window");
            // Most likely the two clocks are apart (a replay is the other cause): say so, once a minute per peer.
            if (!_skewLogged.TryGetValue(message.From, out var last) || now - last > TimeSpan.FromMinutes(1))
            {
                _skewLogged[message.From] = now;
                Log.ClockSkew(_logger, message.From, (now.ToUnixTimeMilliseconds() - message.SentMs) / 1000.0, _options.ReplayWindow.TotalSeconds);
            }
        }
        else
        {
            Drop("stale");
        }

        return false;
    }

    private readonly Dictionary<string, DateTimeOffset> _skewLogged = new(StringComparer.Ordinal);
    private CancellationTokenSource? _nap;
    private int _wakePending;
    private volatile bool _draining;
    private bool _otherFormatLogged;
    private bool _oversizeLogged;

    private void Drop(string reason)
    {
        _metrics.MeshDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.Dropped(_logger, reason);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _switches.Changed -= OnSwitchChanged;
        await _stop.CancelAsync();
        _socket.Dispose();
        foreach (var t in new[] { _send, _receive })
        {
            if (t is not null)
            {
                try
                {
                    await t;
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                }
            }
        }

        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, EventName = "HeartbeatDropped", Level = LogLevel.Debug, Message = "Heartbeat dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string reason);

        [LoggerMessage(EventId = 4005, EventName = "HeartbeatOtherFormat", Level = LogLevel.Warning, Message = "Heartbeats from {Address} are signed with the cluster secret but in wire format {Theirs}; this node speaks {Ours}. Nodes of these two versions cannot see each other: upgrade every node together.")]
        public static partial void OtherFormat(ILogger logger, string address, byte theirs, byte ours);

        [LoggerMessage(EventId = 4006, EventName = "HeartbeatOversize", Level = LogLevel.Warning, Message = "A heartbeat state datagram of {Bytes} bytes is over {Budget} and will be IP-fragmented (the link row of {Peers} peers is sent whole): on paths that drop fragments it is lost. Shorter node names help.")]
        public static partial void Oversize(ILogger logger, int bytes, int budget, int peers);

        [LoggerMessage(EventId = 4004, EventName = "HeartbeatClockSkew", Level = LogLevel.Warning, Message = "Heartbeats from {Peer} are {Seconds:0.#} s away from this node's clock, outside the replay window (+-{Window} s): dropped, so the link counts as down. Check that both nodes keep time (NTP).")]
        public static partial void ClockSkew(ILogger logger, string peer, double seconds, double window);

        [LoggerMessage(EventId = 4003, EventName = "HeartbeatHandleFailed", Level = LogLevel.Warning, Message = "Heartbeat dropped: it could not be applied: {Detail}")]
        public static partial void HandleFailed(ILogger logger, string detail);
    }
}
