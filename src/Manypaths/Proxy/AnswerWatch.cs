namespace Manypaths.Proxy;

/// <summary>
/// Watches one upstream connection for the other side closing it (a FIN or a reset) while a request on it waits for
/// its answer: bytes were written since the last bytes read. An idle connection closing (a keep-alive timeout, a
/// graceful restart) is not told, nor one that this side closed (a cancelled attempt), nor one that answered in
/// HTTP/1.0. See <see cref="Service.CloseBurst"/>: SocketsHttpHandler would send such a request again on a new
/// connection without a word, so the connection is the only place that sees an upstream drop every request it had at
/// once. The connection's stream (<see cref="Mesh.FaultStream"/>, which every upstream connection of a node has) calls
/// it, so watching adds no layer of its own to each read.
/// </summary>
internal sealed class AnswerWatch(string endpoint, Action<string> closedUnderRequest)
{
    private static readonly byte[] Http10 = "HTTP/1.0"u8.ToArray();

    private volatile bool _awaitingAnswer;
    /// <summary>It answered in HTTP/1.0: such a server closes the connection after each answer. <see cref="Http10Close"/>
    /// makes the handler close it too, but an answer it could not mark (one read into a full buffer) may still be
    /// followed by a request that meets the close: no sign of anything.</summary>
    private volatile bool _closesAfterAnswer;
    private volatile bool _disposed;
    private int _told;

    /// <summary>A request (or more of one) is being written.</summary>
    public void Wrote() => _awaitingAnswer = true;

    /// <summary>A read returned <paramref name="n"/> bytes into <paramref name="buffer"/>: an answer began, or the other
    /// side closed (0 bytes for a buffer that had room; a zero-byte read only waits for data).</summary>
    public void Read(ReadOnlySpan<byte> buffer, int n)
    {
        if (n > 0)
        {
            if (_awaitingAnswer && buffer[..n].StartsWith(Http10))
            {
                _closesAfterAnswer = true;
            }

            _awaitingAnswer = false;
        }
        else if (buffer.Length > 0)
        {
            Closed();
        }
    }

    /// <summary>A read failed: a reset, unless cancelled or this side disposed the connection (see <see cref="Closed"/>).</summary>
    public void Failed(Exception e)
    {
        if (e is not OperationCanceledException)
        {
            Closed();
        }
    }

    /// <summary>This side closes the connection: whatever the reads say after this is its own doing.</summary>
    public void Disposing() => _disposed = true;

    private void Closed()
    {
        if (_awaitingAnswer && !_disposed && !_closesAfterAnswer && Interlocked.Exchange(ref _told, 1) == 0)
        {
            closedUnderRequest(endpoint);
        }
    }
}
