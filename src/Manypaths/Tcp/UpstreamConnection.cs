using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>
/// A connection to an upstream, direct or tunnelled through a peer: the stream to pump, its socket (for half-close
/// and reset), and the bytes a relay already sent after its handshake (a server that speaks first, as MySQL does).
/// </summary>
/// <param name="pump">The epoll pump that watched its connect, to carry the session too (null: connected the usual way).</param>
internal sealed class UpstreamConnection(Stream stream, Socket socket, ReadOnlyMemory<byte> pending, EpollPump? pump = null) : IDisposable
{
    public EpollPump? Pump { get; } = pump;

    public Stream Stream { get; } = stream;
    public Socket Socket { get; } = socket;
    public ReadOnlyMemory<byte> Pending { get; } = pending;

    public void Dispose()
    {
        Stream.Dispose();
        Socket.Dispose();
    }
}
