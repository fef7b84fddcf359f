using System.Net.Sockets;
using Manypaths.Health;
using Manypaths.Proxy;
using Manypaths.Service;

namespace Manypaths.Tcp;

/// <summary>
/// The TCP side of the attempt loop for one client connection: an attempt is a connect to the chosen upstream.
/// Nothing of the client's has been sent while connecting, so connects may be raced, retried on the next path and
/// given up when their path is judged down; there is nothing to hedge.
/// </summary>
internal sealed class TcpAttempts(ServiceCore core, Mesh.FaultInjector? faults) : IAttemptRunner<Socket>
{
    public bool MayHedge => false;

    public bool MayRace => true;

    public bool MayRetry(AttemptFailure failure) => failure == AttemptFailure.NeverSent;

    public bool TryAbandon(Attempt attempt) => true;

    public void Discard(Socket value) => value.Dispose();

    public async Task<AttemptOutcome<Socket>> RunAsync(Attempt attempt)
    {
        var upstream = core.Upstreams[attempt.Path.Upstream];
        var started = core.Time.GetTimestamp();
        if (attempt.Path.Peer is not null)
        {
            // Relayed TCP is not offered yet: the chooser is not given relays for tcp services, so this is a bug guard.
            return new(AttemptResult.Unreached, null, AttemptFailure.NeverSent, null, TimeSpan.Zero, "relayed tcp is not supported");
        }

        var host = upstream.Options.Url.Host.Trim('[', ']');
        var port = upstream.Options.Url.Port;
        attempt.MarkConnectStarted(upstream.Endpoint, started);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
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

            await socket.ConnectAsync(host, port, attempt.Token);
            deadline.Disarm();
            var latency = core.Time.GetElapsedTime(started);
            core.ConnectWindow(upstream.Endpoint).Add(latency);
            attempt.MarkConnectDone(core.Time.GetTimestamp());
            attempt.MarkFirstByte();
            Count(upstream.Name, "connected");
            return new(AttemptResult.Success, socket, AttemptFailure.None, RequestOutcome.Success, latency, "connected");
        }
        catch (Exception e)
        {
            socket.Dispose();
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
            return new(AttemptResult.Failed, null, AttemptFailure.NeverSent, refused ? RequestOutcome.Refused : RequestOutcome.ConnectFailed, latency, detail, e);
        }
    }

    private void Count(string upstream, string result) =>
        core.Metrics.Attempts.Add(1,
            new KeyValuePair<string, object?>("service", core.Name),
            new KeyValuePair<string, object?>("upstream", upstream),
            new KeyValuePair<string, object?>("result", result));
}
