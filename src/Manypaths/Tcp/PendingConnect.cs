using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>A non-blocking connect the <see cref="EpollPump"/> watches until the socket is writable (or cancelled).</summary>
internal sealed class PendingConnect(Socket socket)
{
    private readonly TaskCompletionSource<SocketError> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _ref;
    private int _cancel;

    public Task<SocketError> Done => _done.Task;

    public int Fd { get; private set; } = -1;

    /// <summary>Its place in the pump's table, or -1 while not watched.</summary>
    public int Slot { get; set; } = -1;

    public bool CancelRequested => Volatile.Read(ref _cancel) == 1;

    public void RequestCancel() => Volatile.Write(ref _cancel, 1);

    /// <summary>Holds the descriptor open while watched.</summary>
    public bool Acquire()
    {
        try
        {
            socket.SafeHandle.DangerousAddRef(ref _ref);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        Fd = (int)socket.SafeHandle.DangerousGetHandle();
        return _ref;
    }

    /// <summary>How the connect ended: the socket's pending error (SO_ERROR), Success when connected.</summary>
    public SocketError Result()
    {
        try
        {
            var error = (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            return error == 0 ? SocketError.Success : ErrnoToSocketError(error);
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
        catch (ObjectDisposedException)
        {
            return SocketError.OperationAborted;
        }
    }

    public void Finish(SocketError result)
    {
        if (_ref)
        {
            socket.SafeHandle.DangerousRelease();
            _ref = false;
        }

        _done.TrySetResult(result);
    }

    /// <summary>The errno values a connect ends with, as .NET names them (others: SocketError.SocketError).</summary>
    private static SocketError ErrnoToSocketError(int errno) => errno switch
    {
        111 => SocketError.ConnectionRefused, // ECONNREFUSED
        110 => SocketError.TimedOut, // ETIMEDOUT
        113 => SocketError.HostUnreachable, // EHOSTUNREACH
        101 => SocketError.NetworkUnreachable, // ENETUNREACH
        104 => SocketError.ConnectionReset, // ECONNRESET
        99 => SocketError.AddressNotAvailable, // EADDRNOTAVAIL
        _ => SocketError.SocketError,
    };
}
