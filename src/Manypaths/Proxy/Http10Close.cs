namespace Manypaths.Proxy;

/// <summary>
/// Makes an HTTP/1.0 answer without keep-alive say what it means. Such a server (python's http.server, old appliances)
/// closes the connection after every answer without a <c>Connection: close</c>, and SocketsHttpHandler keeps the
/// connection for the next request (by design: it reuses HTTP/1.0 connections), which is reset under that request if
/// it was written before the close arrived. As the answer's first bytes are read, this adds <c>Connection: close</c>
/// after its status line, so the handler closes the connection after the answer itself, and no request is ever
/// written to it. The first read of each answer is made that much shorter, to leave room. Answers that keep the
/// connection alive, and HTTP/1.1 ones, pass untouched. One request at a time, as HTTP/1.1 without pipelining.
/// </summary>
internal sealed class Http10Close
{
    private static readonly byte[] Http10 = "HTTP/1.0 "u8.ToArray();
    private static readonly byte[] LineEnd = "\r\n"u8.ToArray();
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] KeepAlive = "keep-alive"u8.ToArray();

    /// <summary>The header added to an answer that closes its connection.</summary>
    public static ReadOnlySpan<byte> Header => "Connection: close\r\n"u8;

    /// <summary>A request was written: the next bytes read are the first of its answer.</summary>
    private bool _awaitingAnswer;

    public void Wrote() => _awaitingAnswer = true;

    /// <summary>Where the next read goes: <paramref name="buffer"/>, less room for the header if an answer's first bytes
    /// come next (a zero-byte read, which only waits for data, is left as it is).</summary>
    public Memory<byte> ReadInto(Memory<byte> buffer) =>
        _awaitingAnswer && buffer.Length > 2 * Header.Length ? buffer[..^Header.Length] : buffer;

    /// <summary>A read put <paramref name="n"/> bytes at the start of <paramref name="buffer"/> (the whole buffer the
    /// caller gave); returns how many bytes the caller gets, with the header added if this began an HTTP/1.0 answer
    /// that closes its connection.</summary>
    public int Read(Span<byte> buffer, int n)
    {
        if (n <= 0 || !_awaitingAnswer)
        {
            return n;
        }

        _awaitingAnswer = false;
        var data = buffer[..n];
        var statusEnd = data.IndexOf(LineEnd);
        if (buffer.Length - n < Header.Length || !data.StartsWith(Http10) || statusEnd < 0)
        {
            return n;
        }

        var headEnd = data.IndexOf(HeadEnd);
        if (KeepsAlive(headEnd < 0 ? data : data[..headEnd]))
        {
            return n;
        }

        var at = statusEnd + LineEnd.Length;
        data[at..].CopyTo(buffer[(at + Header.Length)..]); // overlapping: CopyTo moves as if through a copy
        Header.CopyTo(buffer[at..]);
        return n + Header.Length;
    }

    /// <summary>The header block (or as much of it as was read) has a Connection header asking for keep-alive.</summary>
    private static bool KeepsAlive(ReadOnlySpan<byte> head)
    {
        while (true)
        {
            var next = head.IndexOf(LineEnd);
            var line = next < 0 ? head : head[..next];
            var colon = line.IndexOf((byte)':');
            if (colon > 0 && System.Text.Ascii.EqualsIgnoreCase(line[..colon].Trim((byte)' '), "Connection"u8) && Contains(line[(colon + 1)..], KeepAlive))
            {
                return true;
            }

            if (next < 0)
            {
                return false;
            }

            head = head[(next + LineEnd.Length)..];
        }
    }

    private static bool Contains(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        for (var i = 0; i + token.Length <= value.Length; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(value.Slice(i, token.Length), token))
            {
                return true;
            }
        }

        return false;
    }
}
