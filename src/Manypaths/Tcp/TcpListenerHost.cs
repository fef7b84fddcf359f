using System.Net;
using System.Net.Sockets;

namespace Manypaths.Tcp;

/// <summary>
/// One listening socket of a mode: tcp service. It outlives config generations (a reload keeps the address open):
/// every accepted connection is handed to <paramref name="accepted"/>, which serves it on the live generation.
/// </summary>
internal sealed class TcpListenerHost(IPEndPoint endpoint, Func<IPEndPoint, Socket, Task> accepted) : IAsyncDisposable
{
    private readonly Socket _socket = new(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
    private Task? _loop;

    public IPEndPoint Endpoint => endpoint;

    /// <summary>Binds and listens; throws <see cref="SocketException"/> when the address is taken.</summary>
    public void Start()
    {
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            _socket.DualMode = endpoint.Address.Equals(IPAddress.IPv6Any);
        }

        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _socket.Bind(endpoint);
        _socket.Listen(1024);
        _loop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown)
            {
                return;
            }
            catch (SocketException)
            {
                // The client reset before we accepted it, or the process is out of descriptors for a moment: a short
                // pause, so the loop does not spin on a condition that lasts.
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
                continue;
            }

            client.NoDelay = true;
            _ = accepted(endpoint, client);
        }
    }

    /// <summary>Stops accepting: connections already accepted go on until they end.</summary>
    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        if (_loop is not null)
        {
            await _loop;
        }
    }
}
