using System.Buffers;
using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>
/// One client connection joined to one upstream connection (direct, or a tunnel through a peer): bytes are copied
/// both ways until both directions ended (a half-close is passed on where the other end is a socket), either side
/// failed, the pair was idle for 'timeouts.idle', or it was closed from outside (the upstream was demoted, the node
/// stops).
/// </summary>
internal sealed class TcpSession
{
    private const int BufferSize = 16 * 1024;
    private readonly Stream _client;
    private readonly Socket? _clientSocket;
    private readonly UpstreamConnection _upstream;
    private readonly TimeSpan _idle;
    private readonly TimeProvider _time;
    private readonly ITimer _idleCheck;
    private long _lastActivity;
    private readonly Mesh.FaultInjector? _faults;
    private int _closed;
    private volatile bool _failed;
    private volatile string? _closedBecause;
    private EpollPump? _pump;
    private PumpedPair? _pumped;

    /// <param name="clientSocket">The client's socket, for half-close and reset (null: a tunnel's stream on the peer side).</param>
    /// <param name="upstreamName">The upstream's name: sessions outlive a config generation (whose upstream indexes may change).</param>
    /// <param name="faults">The node's fault layer: while a drill runs, bytes go through it (the async copier).</param>
    public TcpSession(Stream client, Socket? clientSocket, UpstreamConnection upstream, Routing.PathKey path, string upstreamName, TimeSpan idle, TimeProvider time,
        Mesh.FaultInjector? faults = null)
    {
        _faults = faults;
        _client = client;
        _clientSocket = clientSocket;
        _upstream = upstream;
        _idle = idle;
        Path = path;
        UpstreamName = upstreamName;
        _time = time;
        _lastActivity = time.GetTimestamp();
        // Idle is judged by a timer that looks at the last activity a few times per idle period, not by a
        // cancellation token re-armed on every read: that cost a timer change and a token registration per read.
        var every = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromMinutes(1).Ticks));
        _idleCheck = time.CreateTimer(static s => ((TcpSession)s!).CheckIdle(), this, every, every);
    }

    private void CheckIdle()
    {
        if (_time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= _idle)
        {
            Close("idle");
        }
    }

    /// <summary>The path its upstream connection took: direct, or through which peer.</summary>
    public Routing.PathKey Path { get; }

    public string UpstreamName { get; }

    /// <summary>The peer its connection goes through, or null for a direct one.</summary>
    public string? Peer => Path.Peer;

    /// <summary>Why it ended early, if it did ("demoted", "idle"), for the log and metrics.</summary>
    public string? ClosedBecause => _closedBecause;

    public async Task RunAsync()
    {
        try
        {
            if (!_upstream.Pending.IsEmpty)
            {
                await _client.WriteAsync(_upstream.Pending);
            }

            // A direct pair of sockets goes on the epoll pump (no task per read); a tunnel, or any pair while a
            // fault drill runs, on the async copier.
            if (_clientSocket is not null && Path.Peer is null && _faults is not { Any: true } && (_upstream.Pump ?? EpollPump.Next()) is { } pump)
            {
                if (await PumpAsync(pump))
                {
                    return;
                }
            }
            else
            {
                var up = CopyAsync(_client, _upstream.Stream, _upstream.Socket);
                var down = CopyAsync(_upstream.Stream, _client, _clientSocket);
                await Task.WhenAll(up, down);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _failed = true;
        }
        finally
        {
            if (_failed || ClosedBecause is not null)
            {
                Abort();
            }
            else
            {
                CloseCleanly();
            }
        }
    }

    /// <summary>Closes both connections now (a reset, so neither side mistakes it for a clean end of data).</summary>
    public void Close(string why)
    {
        Interlocked.CompareExchange(ref _closedBecause, why, null);
        if (Volatile.Read(ref _pumped) is { } pair && !pair.Done.IsCompleted)
        {
            _pump!.Close(pair); // the pump lets the sockets go first; RunAsync then resets both
            return;
        }

        Abort();
    }

    /// <summary>
    /// Pumps the pair on <paramref name="pump"/> until it leaves it. True when the session is over; false when a fault
    /// drill began and the async copier has carried the rest to its end.
    /// </summary>
    private async Task<bool> PumpAsync(EpollPump pump)
    {
        var faults = _faults;
        var pair = new PumpedPair(_clientSocket!, _upstream.Socket,
            () => Volatile.Write(ref _lastActivity, _time.GetTimestamp()),
            faults is null ? static () => false : () => faults.Any);
        _pump = pump;
        Interlocked.Exchange(ref _pumped, pair); // a fence: Close either sees the pair, or is seen below
        if (ClosedBecause is not null)
        {
            pair.RequestClose(); // closed before the pump had it: it lets the pair go at once
        }

        pump.Add(pair);
        switch (await pair.Done.ConfigureAwait(false))
        {
            case PumpEnd.Ended:
                return true;
            case PumpEnd.Failed:
                _failed = true;
                return true;
            case PumpEnd.Closed:
                return true;
        }

        // Handed over: what each direction had read and not written goes first, then the async copier.
        try
        {
            if (ClosedBecause is not null)
            {
                return true;
            }

            var up = FinishHandOverAsync(pair.Up, _client, _upstream.Stream, _upstream.Socket);
            var down = FinishHandOverAsync(pair.Down, _upstream.Stream, _client, _clientSocket);
            await Task.WhenAll(up, down);
            return false;
        }
        finally
        {
            pair.Up.Release();
            pair.Down.Release();
        }
    }

    private async Task FinishHandOverAsync(PumpedPair.Direction direction, Stream from, Stream to, Socket? toSocket)
    {
        if (direction.Finished)
        {
            return;
        }

        try
        {
            if (!direction.Unsent.IsEmpty)
            {
                await to.WriteAsync(direction.Unsent);
            }

            if (direction.SourceEnded)
            {
                toSocket?.Shutdown(SocketShutdown.Send);
                return;
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            _failed = true;
            Abort(); // as the copier does: one side failed, the pair is over
            return;
        }

        await CopyAsync(from, to, toSocket);
    }

    /// <summary>Both directions ended with a clean end of data: a normal close, so bytes still in the kernel's send
    /// buffers are delivered (a reset would throw them away).</summary>
    private void CloseCleanly()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        _idleCheck.Dispose();
        _client.Dispose();
        _clientSocket?.Dispose();
        _upstream.Dispose();
    }

    private void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        _idleCheck.Dispose();
        foreach (var s in (Socket?[])[_clientSocket, _upstream.Socket])
        {
            try
            {
                if (s is not null)
                {
                    s.LingerState = new LingerOption(true, 0);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        _client.Dispose();
        _clientSocket?.Dispose();
        _upstream.Dispose();
    }

    /// <param name="toSocket">The socket under <paramref name="to"/>, to pass a half-close on (null: close it whole).</param>
    private async Task CopyAsync(Stream from, Stream to, Socket? toSocket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                // No token: Abort disposes the sockets, which ends a pending read or write.
                var n = await from.ReadAsync(buffer);
                if (n == 0)
                {
                    if (toSocket is not null)
                    {
                        toSocket.Shutdown(SocketShutdown.Send); // pass the half-close on; the other direction goes on
                    }
                    else
                    {
                        _failed = true;
                        Abort(); // a tunnel has no half-close: the end of one direction ends the pair
                    }

                    return;
                }

                Volatile.Write(ref _lastActivity, _time.GetTimestamp()); // activity: the idle clock starts again
                await to.WriteAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            _failed = true;
            Abort(); // one side failed or went idle: the pair is over
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
