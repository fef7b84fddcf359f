using System.Net.Sockets;
using Manypaths.Health;
using Manypaths.Proxy;
using Manypaths.Service;

namespace Manypaths.Tcp;

/// <summary>
/// The TCP side of the attempt loop for one client connection: an attempt is a connect to the chosen upstream,
/// directly or through a peer's tunnel (<see cref="RelayTunnel"/>). Nothing of the client's has been sent while
/// connecting, so connects may be raced, retried on the next path and given up when their path is judged down; there
/// is nothing to hedge.
/// </summary>
internal sealed class TcpAttempts(ServiceCore core, Mesh.FaultInjector? faults, Mesh.RelayContext? relay, int hopsLeft) : IAttemptRunner<UpstreamConnection>
{
    public bool MayHedge => false;

    public bool MayRace => true;

    public bool MayRetry(AttemptFailure failure) => failure == AttemptFailure.NeverSent;

    public bool TryAbandon(Attempt attempt) => true;

    public void Discard(UpstreamConnection value) => value.Dispose();

    public async Task<AttemptOutcome<UpstreamConnection>> RunAsync(Attempt attempt)
    {
        var upstream = core.Upstreams[attempt.Path.Upstream];
        var started = core.Time.GetTimestamp();
        var peer = attempt.Path.PeerMesh;
        if (attempt.Path.Peer is not null && (peer is null || relay is null))
        {
            return new(AttemptResult.Unreached, null, AttemptFailure.NeverSent, null, TimeSpan.Zero, "this node cannot relay");
        }

        var host = (peer?.Host ?? upstream.Options.Url.Host).Trim('[', ']');
        var port = peer?.Port ?? upstream.Options.Url.Port;
        var endpoint = $"{host}:{port}";
        attempt.MarkConnectStarted(endpoint, started);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        using var deadline = attempt.StartDeadline(core.Options.Timeouts.Connect, core.Time);
        try
        {
            if (faults?.For(host, port) is { } fault)
            {
                if (fault.Kind == Mesh.FaultKind.Reset)
                {
                    throw new SocketException((int)SocketError.ConnectionRefused);
                }

                if (faults.Drops(host, port))
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, core.Time, attempt.Token); // the SYN is lost
                }
            }

            // A direct connect to an address (no drill running) is watched by the epoll pump that will carry the
            // session, so the socket never joins .NET's own socket engine; anything else connects the usual way.
            EpollPump? pump = null;
            if (peer is null && faults is not { Any: true } && System.Net.IPAddress.TryParse(host, out var address) && (pump = EpollPump.Next()) is not null)
            {
                await pump.ConnectAsync(socket, new System.Net.IPEndPoint(address, port), attempt.Token);
            }
            else
            {
                await socket.ConnectAsync(host, port, attempt.Token);
            }
            core.ConnectWindow(endpoint).Add(core.Time.GetElapsedTime(started));
            attempt.MarkConnectDone(core.Time.GetTimestamp());
            stream = new NetworkStream(socket, ownsSocket: false);
            if (faults is not null)
            {
                stream = new Mesh.FaultStream(stream, faults, host, port);
            }

            var pending = ReadOnlyMemory<byte>.Empty;
            if (attempt.Path.Peer is { } via)
            {
                var answer = await RelayTunnel.HandshakeAsync(stream, core.Name, upstream.Name, relay!, hopsLeft - 1, attempt.Token);
                if (answer.Status != 101)
                {
                    deadline.Disarm();
                    Dispose(stream, socket);
                    var latencyNo = core.Time.GetElapsedTime(started);
                    Count(upstream.Name, answer.Unreached ? "relay_unreached" : "relay_refused");
                    return new(AttemptResult.Unreached, null, AttemptFailure.NeverSent, RequestOutcome.ConnectFailed, latencyNo,
                        answer.Unreached ? $"{via} could not reach {upstream.Name}" : $"{via} refused the tunnel (status {answer.Status})");
                }

                pending = answer.Pending;
                core.Metrics.Relayed.Add(1, new("service", core.Name), new("peer", via), new("upstream", upstream.Name));
            }

            deadline.Disarm();
            attempt.MarkFirstByte();
            var latency = core.Time.GetElapsedTime(started);
            Count(upstream.Name, "connected");
            return new(AttemptResult.Success, new UpstreamConnection(stream, socket, pending, pump), AttemptFailure.None, RequestOutcome.Success, latency, "connected");
        }
        catch (Exception e)
        {
            Dispose(stream, socket);
            attempt.MarkConnectDone(core.Time.GetTimestamp());
            var latency = core.Time.GetElapsedTime(started);
            if (attempt.CancelledOnPurpose)
            {
                Count(upstream.Name, "cancelled");
                return new(AttemptResult.Cancelled, null, AttemptFailure.None, null, latency, "cancelled", e);
            }

            var refused = e is SocketException { SocketErrorCode: SocketError.ConnectionRefused };
            var detail = e is OperationCanceledException ? $"connect timeout after {Config.ValueParsers.FormatDuration(core.Options.Timeouts.Connect)}" : FailureText.Of(e);
            Count(upstream.Name, refused ? "refused" : "connect_failed");
            // A peer that refused our connect says nothing of the upstream (Refused means "the upstream's side answered").
            var health = refused && attempt.Path.Peer is null ? RequestOutcome.Refused : RequestOutcome.ConnectFailed;
            return new(AttemptResult.Failed, null, AttemptFailure.NeverSent, health, latency, detail, e);
        }
    }

    private static void Dispose(Stream? stream, Socket socket)
    {
        stream?.Dispose();
        socket.Dispose();
    }

    private void Count(string upstream, string result) =>
        core.Metrics.Attempts.Add(1,
            new KeyValuePair<string, object?>("service", core.Name),
            new KeyValuePair<string, object?>("upstream", upstream),
            new KeyValuePair<string, object?>("result", result));
}
