using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Manypaths.Tests.Support;

/// <summary>
/// A bare HTTP/1.1 upstream over raw sockets (GETs only, keep-alive), for what Kestrel cannot do on demand: close every
/// connection with a FIN, as the kernel does for a process that was killed, while requests on them wait.
/// </summary>
internal sealed class RawHttpUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<Socket, bool> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private int _requests;
    private int _connections;
    private int _metTheClose;

    public RawHttpUpstream(string name)
    {
        Name = name;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public string Name { get; }
    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Connections that carried a request other than a health GET.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Requests other than health GETs.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Answers in HTTP/1.0 and closes each connection after its answer (as python's http.server does).</summary>
    public bool Http10 { get; init; }

    /// <summary>With <see cref="Http10"/>: how long after its answer it closes a connection (a busy server). A request
    /// that arrives on it meanwhile is not read: the close resets it (counted in <see cref="MetTheClose"/>).</summary>
    public TimeSpan CloseAfter { get; init; }

    /// <summary>Requests that arrived on an HTTP/1.0 connection after its answer, and were reset by its close.</summary>
    public int MetTheClose => Volatile.Read(ref _metTheClose);

    /// <summary>Requests for this path are answered after this delay.</summary>
    public (string Path, TimeSpan Delay)? Slow { get; set; }

    /// <summary>Requests for this path are read and never answered.</summary>
    public string? HoldPath { get; set; }

    /// <summary>Dies: stops listening, and every open connection gets a FIN (no reset: nothing is left unread).</summary>
    public void Kill()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var s in _open.Keys)
        {
            try
            {
                s.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }

            s.Dispose();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _open[s] = true;
            _ = ServeAsync(s);
        }
    }

    private async Task ServeAsync(Socket s)
    {
        var buffer = new byte[8192];
        var pending = new StringBuilder();
        var carried = false;
        try
        {
            while (true)
            {
                var n = await s.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var head = pending.ToString(0, end);
                    pending.Remove(0, end + 4);
                    var path = head.Split(' ', 3)[1];
                    if (path != "/healthz")
                    {
                        Interlocked.Increment(ref _requests);
                        if (!carried)
                        {
                            carried = true;
                            Interlocked.Increment(ref _connections);
                        }
                    }

                    if (path == HoldPath)
                    {
                        continue; // read, never answered
                    }

                    if (Slow is { } slow && slow.Path == path)
                    {
                        await Task.Delay(slow.Delay, TimeProvider.System, _stop.Token); // an upstream taking its time, not a wait of the test
                    }

                    var body = path == "/healthz" ? "ok" : $"hello from {Name}";
                    await s.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.{(Http10 ? 0 : 1)} 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"), _stop.Token);
                    if (Http10)
                    {
                        await CloseAfterAnswerAsync(s, buffer);
                        return;
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _open.TryRemove(s, out _);
            if (Http10)
            {
                s.Dispose();
            }
        }
    }

    private async Task CloseAfterAnswerAsync(Socket s, byte[] buffer)
    {
        if (CloseAfter > TimeSpan.Zero)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            wait.CancelAfter(CloseAfter); // the server's own pace, not a wait of the test
            try
            {
                if (await s.ReceiveAsync(buffer, SocketFlags.Peek, wait.Token) > 0)
                {
                    Interlocked.Increment(ref _metTheClose);
                    s.LingerState = new LingerOption(true, 0); // closed with the request unread: a reset
                    return;
                }
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
            }
        }

        s.Shutdown(SocketShutdown.Both);
    }

    public ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            Kill();
        }

        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}
