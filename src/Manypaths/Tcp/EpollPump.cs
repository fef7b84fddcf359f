using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Manypaths.Tcp;

/// <summary>
/// A thread that copies the bytes of many TCP pairs (client socket, upstream socket) on its own edge-triggered epoll
/// set, as HAProxy does: a read, a write and the next wait on the same thread, with no task, no thread-pool hop and
/// no allocation per read. Pairs are handed to it with <see cref="Add"/> and leave it when both directions ended, a
/// socket failed, they were closed from outside, or a fault drill began (then the async copier goes on with them).
/// One pump per CPU the process may use; Linux on x86-64 only (<see cref="Libc.Supported"/>).
/// </summary>
internal sealed class EpollPump
{
    private const ulong WakeData = ulong.MaxValue;
    private const int MaxEvents = 256;

    private static readonly Lazy<EpollPump[]?> Pumps = new(Create);
    private static int _next;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly ConcurrentQueue<PumpedPair> _added = new();
    private readonly ConcurrentQueue<PumpedPair> _closing = new();
    private readonly ConcurrentQueue<PendingConnect> _connects = new();
    private readonly List<object?> _slots = [];
    private readonly Stack<int> _free = new();
    /// <summary>Slots let go during the current batch of events: reusable only after it (a later event of the same
    /// batch may still name the slot, and must not reach whoever took it next).</summary>
    private readonly List<int> _freedInBatch = [];
    private readonly HashSet<PumpedPair> _again = [];
    private int _wakePending;
    private bool _dead;

    private EpollPump(int epoll, int wake, int number)
    {
        _epoll = epoll;
        _wake = wake;
        var thread = new Thread(Loop) { IsBackground = true, Name = $"Manypaths TCP pump {number}" };
        thread.Start();
    }

    /// <summary>The pump for the next pair (round robin), or null where the pump cannot run.</summary>
    public static EpollPump? Next()
    {
        var pumps = Pumps.Value;
        var pump = pumps?[(int)((uint)Interlocked.Increment(ref _next) % (uint)pumps.Length)];
        return pump is null || Volatile.Read(ref pump._dead) ? null : pump;
    }

    private unsafe static EpollPump[]? Create()
    {
        if (!Libc.Supported || Environment.GetEnvironmentVariable("MANYPATHS_TCP_PUMP") == "async")
        {
            return null;
        }

        var pumps = new EpollPump[Math.Max(1, Environment.ProcessorCount)];
        for (var i = 0; i < pumps.Length; i++)
        {
            var epoll = Libc.EpollCreate(Libc.EPOLL_CLOEXEC);
            var wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            var ev = new Libc.EpollEvent { Events = Libc.EPOLLIN | Libc.EPOLLET, Data = WakeData };
            if (epoll < 0 || wake < 0 || Libc.EpollCtl(epoll, Libc.EPOLL_CTL_ADD, wake, &ev) != 0)
            {
                // Out of descriptors at start: the pumps made so far serve (their threads run already), or none
                // and the async copier does.
                return i == 0 ? null : pumps[..i];
            }

            pumps[i] = new EpollPump(epoll, wake, i);
        }

        return pumps;
    }

    /// <summary>Starts pumping <paramref name="pair"/> (any thread).</summary>
    public void Add(PumpedPair pair)
    {
        _added.Enqueue(pair);
        Wake();
        FinishIfDead();
    }

    /// <summary>Lets <paramref name="pair"/> go as closed (any thread).</summary>
    public void Close(PumpedPair pair)
    {
        if (pair.RequestClose())
        {
            _closing.Enqueue(pair);
            Wake();
            FinishIfDead();
        }
    }

    /// <summary>A pump whose loop ended takes no more commands: whoever queued one finishes what is queued.</summary>
    private void FinishIfDead()
    {
        if (!Volatile.Read(ref _dead))
        {
            return;
        }

        while (_added.TryDequeue(out var pair))
        {
            pair.Finish(PumpEnd.Failed);
        }

        while (_closing.TryDequeue(out _))
        {
            // finished already: by Stop, or just above
        }

        while (_connects.TryDequeue(out var connect))
        {
            if (connect.Slot < 0)
            {
                connect.Finish(SocketError.OperationAborted);
            }
        }
    }

    private unsafe void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 1)
        {
            return; // a wake-up is on its way already
        }

        ulong one = 1;
        Libc.Write(_wake, (byte*)&one, sizeof(ulong));
    }

    private unsafe void Loop()
    {
        var events = new Libc.EpollEvent[MaxEvents];
        var again = new List<PumpedPair>();
        while (true)
        {
            foreach (var slot in _freedInBatch)
            {
                _free.Push(slot);
            }

            _freedInBatch.Clear();
            int n;
            fixed (Libc.EpollEvent* e = events)
            {
                n = Libc.EpollWait(_epoll, e, MaxEvents, _again.Count > 0 ? 0 : -1);
            }

            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == Libc.EINTR)
                {
                    continue;
                }

                Stop(); // not expected (EBADF, EFAULT): let every pair go; new ones use the async copier
                return;
            }

            for (var i = 0; i < n; i++)
            {
                var data = events[i].Data;
                if (data == WakeData)
                {
                    ulong count;
                    Interlocked.Exchange(ref _wakePending, 0); // before the queues are read: a later Add wakes again
                    Libc.Read(_wake, (byte*)&count, sizeof(ulong));
                    TakeCommands();
                    continue;
                }

                if ((int)data < _slots.Count)
                {
                    switch (_slots[(int)data])
                    {
                        case PumpedPair pair:
                            Run(pair);
                            break;
                        case PendingConnect connect:
                            Complete(connect, cancelled: false);
                            break;
                    }
                }
            }

            if (_again.Count > 0)
            {
                again.AddRange(_again);
                _again.Clear();
                foreach (var pair in again)
                {
                    if (pair.Slot >= 0)
                    {
                        Run(pair);
                    }
                }

                again.Clear();
            }
        }
    }

    private void Stop()
    {
        Volatile.Write(ref _dead, true);
        foreach (var slot in _freedInBatch)
        {
            _free.Push(slot);
        }

        _freedInBatch.Clear();
        for (var i = 0; i < _slots.Count; i++)
        {
            switch (_slots[i])
            {
                case PumpedPair pair:
                    Remove(pair, PumpEnd.Failed);
                    break;
                case PendingConnect connect:
                    Complete(connect, cancelled: true);
                    break;
            }
        }

        TakeCommands();
        FinishIfDead();
    }

    private void TakeCommands()
    {
        while (_added.TryDequeue(out var pair))
        {
            Register(pair);
        }

        while (_closing.TryDequeue(out var pair))
        {
            if (pair.Slot >= 0)
            {
                Remove(pair, PumpEnd.Closed);
            }
        }

        while (_connects.TryDequeue(out var connect))
        {
            if (connect.Slot < 0 && !connect.Done.IsCompleted)
            {
                WatchConnect(connect);
            }
            else if (connect.Slot >= 0 && connect.CancelRequested)
            {
                Complete(connect, cancelled: true);
            }
        }
    }

    /// <summary>
    /// Connects <paramref name="socket"/> to <paramref name="endpoint"/> with the pump watching the connect, so the
    /// socket is never registered with .NET's own socket engine (whose wake-ups for every later read, on its own
    /// thread and then a pool thread, cost a fifth of the pump's CPU). Throws as Socket.ConnectAsync does.
    /// </summary>
    public async Task ConnectAsync(Socket socket, IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        socket.Blocking = false; // for the connect only: streams over the socket want it blocking, the pump never blocks
        try
        {
            socket.Connect(endpoint);
            socket.Blocking = true;
            return; // connected at once (loopback can)
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
        }

        var connect = new PendingConnect(socket);
        await using (cancellationToken.UnsafeRegister(static s =>
        {
            var (pump, c) = ((EpollPump, PendingConnect))s!;
            c.RequestCancel();
            pump._connects.Enqueue(c);
            pump.Wake();
            pump.FinishIfDead();
        }, (this, connect)))
        {
            _connects.Enqueue(connect);
            Wake();
            FinishIfDead();
            var error = await connect.Done.ConfigureAwait(false);
            if (error == SocketError.OperationAborted)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            socket.Blocking = true;
        }
    }

    private unsafe void WatchConnect(PendingConnect connect)
    {
        if (connect.CancelRequested || !connect.Acquire() || Volatile.Read(ref _dead))
        {
            connect.Finish(SocketError.OperationAborted);
            return;
        }

        connect.Slot = Take(connect);
        var ev = new Libc.EpollEvent { Events = Libc.EPOLLOUT | Libc.EPOLLET, Data = (ulong)connect.Slot };
        if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, connect.Fd, &ev) != 0)
        {
            Complete(connect, cancelled: true);
        }
    }

    /// <summary>The connect ended (writable: success or its error) or was cancelled: the pump lets the socket go.</summary>
    private unsafe void Complete(PendingConnect connect, bool cancelled)
    {
        Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, connect.Fd, null);
        Free(connect.Slot);
        connect.Slot = -1;
        connect.Finish(cancelled ? SocketError.OperationAborted : connect.Result());
    }

    private int Take(object entry)
    {
        var slot = _free.Count > 0 ? _free.Pop() : _slots.Count;
        if (slot == _slots.Count)
        {
            _slots.Add(entry);
        }
        else
        {
            _slots[slot] = entry;
        }

        return slot;
    }

    private void Free(int slot)
    {
        _slots[slot] = null;
        _freedInBatch.Add(slot);
    }

    private unsafe void Register(PumpedPair pair)
    {
        bool held;
        try
        {
            held = pair.Acquire();
        }
        catch (ObjectDisposedException)
        {
            held = false;
        }

        if (!held || pair.CloseRequested || Volatile.Read(ref _dead))
        {
            pair.Finish(held && pair.CloseRequested ? PumpEnd.Closed : PumpEnd.Failed);
            return;
        }

        var slot = Take(pair);
        pair.Slot = slot;
        var ev = new Libc.EpollEvent { Events = Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET, Data = (ulong)slot };
        if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, pair.ClientFd, &ev) != 0 || Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, pair.UpstreamFd, &ev) != 0)
        {
            Remove(pair, PumpEnd.Failed);
            return;
        }

        Run(pair); // bytes may be waiting already (edge-triggered: no event would come for them)
    }

    private void Run(PumpedPair pair)
    {
        var (end, more) = pair.Progress();
        if (end is { } how)
        {
            Remove(pair, how);
        }
        else if (more)
        {
            _again.Add(pair);
        }
    }

    private unsafe void Remove(PumpedPair pair, PumpEnd end)
    {
        Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, pair.ClientFd, null);
        Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, pair.UpstreamFd, null);
        Free(pair.Slot);
        pair.Slot = -1;
        _again.Remove(pair);
        pair.Finish(end);
    }
}
