using System.Buffers;
using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>
/// One client connection joined to one upstream connection: bytes are copied both ways until both directions ended
/// (a half-close is passed on), either side failed, the connection was idle for 'timeouts.idle', or it was closed
/// from outside (the upstream was demoted, the node stops).
/// </summary>
internal sealed class TcpSession(Socket client, Socket upstream, int upstreamIndex, TimeSpan idle, TimeProvider time)
{
    private const int BufferSize = 16 * 1024;
    private readonly CancellationTokenSource _stop = new(idle, time);
    private int _closed;

    public int Upstream => upstreamIndex;

    /// <summary>Why it ended early, if it did ("demoted", "idle"), for the log and metrics.</summary>
    public string? ClosedBecause { get; private set; }

    public long BytesUp { get; private set; }
    public long BytesDown { get; private set; }

    public async Task RunAsync()
    {
        try
        {
            var up = CopyAsync(client, upstream, n => BytesUp += n);
            var down = CopyAsync(upstream, client, n => BytesDown += n);
            await Task.WhenAll(up, down);
        }
        finally
        {
            if (_stop.IsCancellationRequested && ClosedBecause is null)
            {
                ClosedBecause = "idle";
            }

            Abort();
            _stop.Dispose();
        }
    }

    /// <summary>Closes both connections now (a reset, so neither side mistakes it for a clean end of data).</summary>
    public void Close(string why)
    {
        ClosedBecause ??= why;
        Abort();
    }

    private void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        foreach (var s in (Socket[])[client, upstream])
        {
            try
            {
                s.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            s.Dispose();
        }
    }

    private async Task CopyAsync(Socket from, Socket to, Action<int> counted)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send); // pass the half-close on; the other direction goes on
                    return;
                }

                _stop.CancelAfter(idle); // activity: the idle clock starts again
                counted(n);
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Abort(); // one side failed or went idle: the pair is over
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
