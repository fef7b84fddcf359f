using System.Net.Sockets;
using System.Text;

namespace Manypaths.Tests.Support;

/// <summary>
/// The smallest Redis client: one connection, one command at a time, replies as text ("+OK", "-READONLY ...", ":1",
/// a bulk string, or the first line of an array). Tests measure gaps with it, so it reconnects nothing by itself and
/// hides nothing (StackExchange.Redis's own reconnect timing would be measured instead of ours).
/// </summary>
internal sealed class RespClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RespClient> ConnectAsync(int port, TimeSpan? timeout = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            await tcp.ConnectAsync("127.0.0.1", port, cts.Token);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new RespClient(tcp);
    }

    /// <summary>Sends one command and reads its reply; throws IOException when the connection ends or times out.</summary>
    public async Task<string> CommandAsync(TimeSpan timeout, params string[] args)
    {
        using var cts = new CancellationTokenSource(timeout);
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }

        try
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), cts.Token);
            return await ReadReplyAsync(cts.Token);
        }
        catch (OperationCanceledException e)
        {
            throw new IOException("no reply in time", e);
        }
    }

    public Task<string> CommandAsync(params string[] args) => CommandAsync(TimeSpan.FromSeconds(5), args);

    private async Task<string> ReadReplyAsync(CancellationToken ct)
    {
        var line = await ReadLineAsync(ct);
        switch (line[0])
        {
            case '$':
                var length = int.Parse(line.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return "(nil)";
                }

                while (_end - _start < length + 2)
                {
                    await FillAsync(ct);
                }

                var text = Encoding.UTF8.GetString(_buffer, _start, length);
                _start += length + 2;
                return text;
            case '*':
                var count = int.Parse(line.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                var items = new List<string>();
                for (var i = 0; i < count; i++)
                {
                    items.Add(await ReadReplyAsync(ct));
                }

                return string.Join("\n", items);
            default:
                return line;
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            var at = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (at > _start && _buffer[at - 1] == '\r')
            {
                var line = Encoding.UTF8.GetString(_buffer, _start, at - 1 - _start);
                _start = at + 1;
                return line;
            }

            await FillAsync(ct);
        }
    }

    private async Task FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var n = await _stream.ReadAsync(_buffer.AsMemory(_end), ct);
        if (n == 0)
        {
            throw new IOException("connection closed");
        }

        _end += n;
    }

    public void Dispose() => _tcp.Dispose();
}
