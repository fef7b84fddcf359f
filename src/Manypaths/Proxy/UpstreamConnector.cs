using System.Net.Sockets;
using Manypaths.Mesh;

namespace Manypaths.Proxy;

/// <summary>
/// SocketsHttpHandler's connect step, ours so that a failed connect is a definite "never sent" and the connect
/// timeout is per service. Later, the fault layer for drills plugs in here.
/// </summary>
internal static class UpstreamConnector
{
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Create(TimeSpan timeout, TimeProvider time, FaultInjector? faults = null) =>
        async (context, cancellationToken) =>
        {
            var endpoint = context.DnsEndPoint;
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeoutCts = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
            try
            {
                if (faults?.For(endpoint.Host, endpoint.Port) is { } fault)
                {
                    if (fault.Kind == FaultKind.Reset)
                    {
                        throw new System.Net.Sockets.SocketException((int)SocketError.ConnectionRefused);
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
                var stream = new NetworkStream(socket, ownsSocket: true);
                return faults is null ? stream : new FaultStream(stream, faults, endpoint.Host, endpoint.Port);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                var reason = e is OperationCanceledException ? $"connect timeout after {Config.ValueParsers.FormatDuration(timeout)}" : e.Message;
                throw new ConnectFailedException($"{endpoint.Host}:{endpoint.Port}", reason, e);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
}
