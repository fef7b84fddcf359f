using System.Net.Sockets;
using Manypaths.Mesh;
using Manypaths.Service;

namespace Manypaths.Proxy;

/// <summary>
/// SocketsHttpHandler's connect step, ours so that a failed connect is a definite "never sent", the connect timeout
/// is per service, the fault layer (tests, drills) can break a link, and every connect is measured: its time feeds
/// the endpoint's window (the race delay follows it) and the attempt that asked for it knows it is connecting.
/// </summary>
internal static class UpstreamConnector
{
    /// <summary>Set on a standby warm-up: its connects (a burst of them at once) are not samples of the endpoint's usual.</summary>
    public static readonly HttpRequestOptionsKey<bool> WarmupKey = new("manypaths.warmup");

    /// <param name="connectTimes">Where each endpoint's connect times go (null: not measured).</param>
    /// <param name="closedUnderRequest">Told the endpoint when the other side closes a connection while a request on
    /// it waits for its answer (<see cref="AnswerWatch"/>, through the fault layer's stream: not watched without one).</param>
    /// <param name="attemptOf">The attempt a request message belongs to (<see cref="Attempt.Request"/>), told when
    /// its connect starts and ends (null: none are).</param>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Create(
        TimeSpan timeout, TimeProvider time, FaultInjector? faults = null, Func<string, LatencyWindow>? connectTimes = null,
        Func<HttpRequestMessage, Attempt?>? attemptOf = null, Action<string>? closedUnderRequest = null) =>
        async (context, cancellationToken) =>
        {
            var endpoint = context.DnsEndPoint;
            var name = $"{endpoint.Host}:{endpoint.Port}";
            var started = time.GetTimestamp();
            var attempt = attemptOf?.Invoke(context.InitialRequestMessage);
            attempt?.MarkConnectStarted(name, started);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeoutCts = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
            try
            {
                if (faults?.For(endpoint.Host, endpoint.Port) is { } fault)
                {
                    if (fault.Kind == FaultKind.Reset)
                    {
                        throw new SocketException((int)SocketError.ConnectionRefused);
                    }

                    if (fault.Kind == FaultKind.Delay)
                    {
                        await Task.Delay(fault.Delay, time, linked.Token);
                    }

                    if (faults.Drops(endpoint.Host, endpoint.Port))
                    {
                        await Task.Delay(Timeout.InfiniteTimeSpan, time, linked.Token); // the SYN is lost
                    }
                }

                await socket.ConnectAsync(endpoint, linked.Token);
                var connected = time.GetTimestamp();
                if (!context.InitialRequestMessage.Options.TryGetValue(WarmupKey, out _))
                {
                    connectTimes?.Invoke(name).Add(time.GetElapsedTime(started, connected), connected); // when: see AttemptLoop's Race
                }

                // In a connect race, an attempt that connects second is cancelled here, before its request can take
                // this connection; the connection goes to the pool all the same.
                attempt?.Connected(connected);
                attempt = null;

                var stream = new NetworkStream(socket, ownsSocket: true);
                return faults is null ? stream
                    : new FaultStream(stream, faults, endpoint.Host, endpoint.Port, closedUnderRequest is null ? null : new AnswerWatch(name, closedUnderRequest), new Http10Close());
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                var reason = e is OperationCanceledException ? $"connect timeout after {Config.ValueParsers.FormatDuration(timeout)}" : e.Message;
                throw new ConnectFailedException(name, reason, e);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            finally
            {
                attempt?.MarkConnectFailed(time.GetTimestamp()); // null once connected
            }
        };
}
