using System.Runtime.CompilerServices;

namespace Manypaths.Proxy;

/// <summary>
/// An upstream connection that tells when the other side closes it (a FIN or a reset) while a request on it waits for
/// its answer: bytes were written since the last bytes read. An idle connection closing (a keep-alive timeout, a
/// graceful restart) is not told, nor one that this side closed (a cancelled attempt). See <see cref="Service.CloseBurst"/>:
/// SocketsHttpHandler would send such a request again on a new connection without a word, so the connection is the
/// only place that sees an upstream drop every request it had at once.
/// </summary>
internal sealed class AnswerWatch(Stream inner, string endpoint, Action<string> closedUnderRequest) : Stream
{
    private static readonly byte[] Http10 = "HTTP/1.0"u8.ToArray();

    private volatile bool _awaitingAnswer;
    /// <summary>It answered in HTTP/1.0: such a server closes the connection after each answer, yet SocketsHttpHandler
    /// sends the next request on it and meets the close (and sends it again on a new connection): no sign of anything.</summary>
    private volatile bool _closesAfterAnswer;
    private volatile bool _disposed;
    private int _told;

    public override bool CanRead => inner.CanRead;
    public override bool CanWrite => inner.CanWrite;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ValueTask<int> read;
        try
        {
            read = inner.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception e)
        {
            Failed(e);
            throw;
        }

        if (read.IsCompletedSuccessfully)
        {
            var n = read.Result;
            Read(buffer.Span, n);
            return new ValueTask<int>(n);
        }

        return AwaitReadAsync(read, buffer);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> AwaitReadAsync(ValueTask<int> read, Memory<byte> buffer)
    {
        try
        {
            var n = await read.ConfigureAwait(false);
            Read(buffer.Span, n);
            return n;
        }
        catch (Exception e)
        {
            Failed(e);
            throw;
        }
    }

    public override int Read(Span<byte> buffer)
    {
        try
        {
            var n = inner.Read(buffer);
            Read(buffer, n);
            return n;
        }
        catch (Exception e)
        {
            Failed(e);
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _awaitingAnswer = true;
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _awaitingAnswer = true;
        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Bytes came (an answer began), or the other side closed (0 bytes for a buffer that had room).</summary>
    private void Read(ReadOnlySpan<byte> buffer, int n)
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

    private void Failed(Exception e)
    {
        if (e is not OperationCanceledException)
        {
            Closed(); // a reset (this side's own close is told apart in Closed)
        }
    }

    private void Closed()
    {
        if (_awaitingAnswer && !_disposed && !_closesAfterAnswer && Interlocked.Exchange(ref _told, 1) == 0)
        {
            closedUnderRequest(endpoint);
        }
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
