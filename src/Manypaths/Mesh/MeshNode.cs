using System.Net;
using System.Net.Sockets;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;

namespace Manypaths.Mesh;

/// <summary>
/// The UDP side of the peer channel: signed pings to every peer every heartbeat (carrying this node's direct
/// views), pongs back, link health per peer, and the newest views of every peer. A malformed, unsigned or
/// foreign datagram is dropped and counted; it never stops the loop.
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
    private readonly CancellationTokenSource _stop = new();
    private readonly long _boot;
    private readonly Maintenance.MaintenanceState _switches;
    private Task? _send;
    private Task? _receive;
    private ulong _seq;
    private long _version;
    private string _lastDigest = "";
    private bool _tooBig;

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
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(bind);
    }

    public PeerViews Views { get; } = new();

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
                var views = _localViews();
                var digest = string.Join(";", views.Select(v => $"{v.Service}/{v.Upstream}={v.State}"));
                if (digest != _lastDigest)
                {
                    _lastDigest = digest;
                    _version++;
                }

                var seq = ++_seq;
                var switches = _switches.Snapshot();
                var links = _links.Select(l =>
                {
                    var link = l.Value.Snapshot();
                    return new LinkReport(l.Key, link.State, (float)link.RttMs, (float)link.Loss);
                }).ToList();
                var packet = new HeartbeatMessage(HeartbeatKind.Ping, _self, seq, 0, _boot, _version, views) { Switches = switches, Links = links }.Encode(_signer);
                if (packet.Length > MaxDatagram)
                {
                    // Every peer would see this node as down: say why, loudly but once (the config check keeps
                    // views well below this), and count every ping not sent.
                    _metrics.MeshDropped.Add(1, new KeyValuePair<string, object?>("reason", "too_big_to_send"));
                    if (!_tooBig)
                    {
                        Log.TooBig(_logger, packet.Length, views.Count, switches.Count, MaxDatagram);
                    }

                    _tooBig = true;
                    await Task.Delay(_options.Heartbeat, _time, stop);
                    continue;
                }

                _tooBig = false;

                foreach (var (name, endpoint) in _peers)
                {
                    _links[name].PingSent(seq);
                    await SendAsync(packet, endpoint, HeartbeatKind.Ping, stop);
                }

                await Task.Delay(_options.Heartbeat, _time, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private static readonly KeyValuePair<string, object?> PingTag = new("kind", "ping");
    private static readonly KeyValuePair<string, object?> PongTag = new("kind", "pong");

    /// <summary>The largest UDP payload over IPv4.</summary>
    internal const int MaxDatagram = 65_507;

    private async Task SendAsync(byte[] packet, IPEndPoint to, HeartbeatKind kind, CancellationToken stop)
    {
        if (_faults.Drops(to.Address.ToString(), to.Port))
        {
            return; // lost on the (simulated) wire, after it was sent
        }

        try
        {
            await _socket.SendToAsync(packet, SocketFlags.None, to, stop);
            _metrics.HeartbeatsSent.Add(1, kind == HeartbeatKind.Ping ? PingTag : PongTag);
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

            Handle(buffer.AsSpan(0, got.ReceivedBytes), from, stop);
        }
    }

    private void Handle(ReadOnlySpan<byte> packet, IPEndPoint from, CancellationToken stop)
    {
        var message = HeartbeatMessage.Decode(packet, _signer, out var authentic);
        if (message is null)
        {
            Drop(authentic ? "malformed" : "unauthenticated");
            return;
        }

        if (!_links.TryGetValue(message.From, out var link))
        {
            Drop("unknown_peer");
            return;
        }

        link.Heard();
        if (message.Kind == HeartbeatKind.Pong)
        {
            link.PongReceived(message.Seq);
            return;
        }

        Views.Update(message.From, message.Boot, message.Version, message.Views);
        _switches.Merge(message.Switches);
        Matrix.Update(message.From, message.Boot, message.Seq, message.Links, _time.GetUtcNow());
        var pong = new HeartbeatMessage(HeartbeatKind.Pong, _self, message.Seq, 0, _boot, _version, []);
        _ = SendAsync(pong.Encode(_signer), _peers[message.From], HeartbeatKind.Pong, stop);
    }

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

        [LoggerMessage(EventId = 4002, EventName = "HeartbeatTooBig", Level = LogLevel.Error, Message = "Heartbeat not sent: {Bytes} bytes ({Views} upstream views, {Switches} switches) exceed one datagram ({Max}); peers will see this node as down. Shorten maintenance messages or put fewer upstreams under relay.")]
        public static partial void TooBig(ILogger logger, int bytes, int views, int switches, int max);
    }
}
