using System.Buffers;
using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>How a pair left the epoll pump.</summary>
internal enum PumpEnd
{
    /// <summary>Both directions ended with a clean end of data (each passed on as a half-close).</summary>
    Ended,

    /// <summary>A socket failed (reset, broken pipe): the pair is over.</summary>
    Failed,

    /// <summary>Closed from outside (demotion, idle, the node stops).</summary>
    Closed,

    /// <summary>A fault drill began on this node: the rest is pumped by the async copier, through the fault layer.</summary>
    HandedOver,
}

/// <summary>
/// One client socket joined to one upstream socket on an <see cref="EpollPump"/>: the bytes of each direction read
/// into a buffer of its own and written on, with no task or thread hop per read. Every method but
/// <see cref="RequestClose"/> and the completion runs on the pump's thread.
/// </summary>
internal sealed unsafe class PumpedPair
{
    private const int BufferSize = 16 * 1024;

    /// <summary>Work done for one event before the pair yields to the others (it is taken up again after them).</summary>
    private const int Rounds = 16;

    private readonly SafeSocketHandle _clientHandle;
    private readonly SafeSocketHandle _upstreamHandle;
    private readonly Action _activity;
    private readonly Func<bool> _handOver;
    private readonly TaskCompletionSource<PumpEnd> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _clientRef;
    private bool _upstreamRef;
    private int _closeRequested;

    /// <param name="activity">Called on the pump's thread when bytes arrive (the idle clock starts again).</param>
    /// <param name="handOver">Asked before each round: true when the rest must go through the async copier.</param>
    public PumpedPair(Socket client, Socket upstream, Action activity, Func<bool> handOver)
    {
        _clientHandle = client.SafeHandle;
        _upstreamHandle = upstream.SafeHandle;
        _activity = activity;
        _handOver = handOver;
        Up = new Direction();
        Down = new Direction();
    }

    /// <summary>Client to upstream.</summary>
    public Direction Up { get; }

    /// <summary>Upstream to client.</summary>
    public Direction Down { get; }

    public Task<PumpEnd> Done => _done.Task;

    public int ClientFd { get; private set; } = -1;

    public int UpstreamFd { get; private set; } = -1;

    /// <summary>Its place in the pump's table (the epoll data of both its sockets).</summary>
    public int Slot { get; set; } = -1;

    public bool CloseRequested => Volatile.Read(ref _closeRequested) == 1;

    /// <summary>Any thread: asks the pump to let the pair go (the session then closes both sockets).</summary>
    public bool RequestClose() => Interlocked.Exchange(ref _closeRequested, 1) == 0;

    /// <summary>Holds both descriptors open while pumped (a Dispose elsewhere cannot free them for reuse).</summary>
    public bool Acquire()
    {
        _clientHandle.DangerousAddRef(ref _clientRef);
        _upstreamHandle.DangerousAddRef(ref _upstreamRef);
        ClientFd = (int)_clientHandle.DangerousGetHandle();
        UpstreamFd = (int)_upstreamHandle.DangerousGetHandle();
        return _clientRef && _upstreamRef;
    }

    /// <summary>Lets both descriptors go and reports how the pair ended (after the pump stopped watching them).</summary>
    public void Finish(PumpEnd end)
    {
        if (_clientRef)
        {
            _clientHandle.DangerousRelease();
            _clientRef = false;
        }

        if (_upstreamRef)
        {
            _upstreamHandle.DangerousRelease();
            _upstreamRef = false;
        }

        if (end != PumpEnd.HandedOver)
        {
            Up.Release();
            Down.Release();
        }

        _done.TrySetResult(end);
    }

    /// <summary>
    /// Moves bytes both ways until each direction would block (edge-triggered: the next event comes when that
    /// changes). Returns null while the pair goes on, true when it must be taken up again after the other pairs
    /// (it had more to do), or how it ended.
    /// </summary>
    public (PumpEnd? End, bool Again) Progress()
    {
        if (CloseRequested)
        {
            return (PumpEnd.Closed, false);
        }

        if (_handOver())
        {
            return (PumpEnd.HandedOver, false);
        }

        var up = Move(Up, ClientFd, UpstreamFd);
        if (up == Step.Failed)
        {
            return (PumpEnd.Failed, false);
        }

        var down = Move(Down, UpstreamFd, ClientFd);
        if (down == Step.Failed)
        {
            return (PumpEnd.Failed, false);
        }

        if (Up.Finished && Down.Finished)
        {
            return (PumpEnd.Ended, false);
        }

        return (null, up == Step.More || down == Step.More);
    }

    private enum Step
    {
        Blocked,
        More,
        Failed,
    }

    private Step Move(Direction d, int from, int to)
    {
        for (var round = 0; round < Rounds; round++)
        {
            if (d.Start < d.End)
            {
                nint sent;
                fixed (byte* p = d.Buffer)
                {
                    sent = Libc.Send(to, p + d.Start, (nuint)(d.End - d.Start), Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
                }

                if (sent < 0)
                {
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue; // edge-triggered: stop only at EAGAIN
                    }

                    return errno == Libc.EAGAIN ? Step.Blocked : Step.Failed;
                }

                d.Start += (int)sent;
                if (d.Start < d.End)
                {
                    continue; // a short write: try the rest; EAGAIN then waits for the socket to drain
                }

                d.Start = d.End = 0;
            }

            if (d.SourceEnded)
            {
                if (!d.Finished)
                {
                    d.Finished = true;
                    Libc.Shutdown(to, Libc.SHUT_WR); // pass the half-close on; the other direction goes on
                }

                return Step.Blocked;
            }

            nint got;
            fixed (byte* p = d.Buffer)
            {
                got = Libc.Recv(from, p, BufferSize, Libc.MSG_DONTWAIT);
            }

            if (got < 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                return errno == Libc.EAGAIN ? Step.Blocked : Step.Failed;
            }

            if (got == 0)
            {
                d.SourceEnded = true;
                continue;
            }

            d.End = (int)got;
            _activity();
        }

        return Step.More;
    }

    /// <summary>One direction: the bytes read and not yet written (Start..End of its buffer), and how far it ended.</summary>
    internal sealed class Direction
    {
        public byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(BufferSize);

        public int Start { get; set; }

        public int End { get; set; }

        /// <summary>The source sent its end of data.</summary>
        public bool SourceEnded { get; set; }

        /// <summary>That end was passed on (the destination was half-closed): nothing more goes this way.</summary>
        public bool Finished { get; set; }

        /// <summary>Bytes read and not written yet (for the copier that takes over).</summary>
        public ReadOnlyMemory<byte> Unsent => Buffer.AsMemory(Start, End - Start);

        public void Release()
        {
            var buffer = Buffer;
            Buffer = [];
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
