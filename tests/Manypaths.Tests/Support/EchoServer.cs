using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Manypaths.Tests.Support;

/// <summary>A TCP server on a free loopback port that answers every line with "name: line"; stoppable and restartable.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly string _name;
    private TcpListener? _listener;
    private readonly List<TcpClient> _clients = [];
    private Task? _loop;

    private EchoServer(string name, int port)
    {
        _name = name;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted;

    public static EchoServer Start(string name)
    {
        var s = new EchoServer(name, Demo.FreePort.Next());
        s.Listen();
        return s;
    }

    public void Listen()
    {
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        var listener = _listener;
        _loop = Task.Run(async () =>
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    return; // stopped
                }

                Interlocked.Increment(ref Accepted);
                lock (_clients)
                {
                    _clients.Add(client);
                }

                _ = ServeAsync(client);
            }
        });
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            using var reader = new StreamReader(client.GetStream(), Encoding.UTF8);
            var stream = client.GetStream();
            while (await reader.ReadLineAsync() is { } line)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes($"{_name}: {line}\n"));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>Stops listening and resets every open connection, as a crashed server's host would.</summary>
    public async Task StopAsync()
    {
        _listener?.Stop();
        if (_loop is not null)
        {
            await _loop;
            _loop = null;
        }

        lock (_clients)
        {
            foreach (var c in _clients)
            {
                try
                {
                    if (c.Client is { } socket)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }

                c.Dispose();
            }

            _clients.Clear();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}

/// <summary>A line-based client: sends a line, reads the answer line.</summary>
internal sealed class LineClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly StreamReader _reader;

    private LineClient(TcpClient tcp)
    {
        _tcp = tcp;
        _reader = new StreamReader(tcp.GetStream(), Encoding.UTF8);
    }

    public static async Task<LineClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return new LineClient(tcp);
    }

    /// <summary>The answer, or null when the connection was closed (by the proxy or the server).</summary>
    public async Task<string?> AskAsync(string line, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await _tcp.GetStream().WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cts.Token);
            return await _reader.ReadLineAsync(cts.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    public void Dispose() => _tcp.Dispose();
}
