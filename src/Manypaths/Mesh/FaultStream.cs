namespace Manypaths.Mesh;

/// <summary>
/// An upstream connection that stalls while its link is blackholed and breaks when the link resets, as a real one
/// would (a kept-alive connection must not outlive a fault that real traffic would see). It also tells the connection's
/// <see cref="Proxy.AnswerWatch"/> what its reads and writes saw, and lets <see cref="Proxy.Http10Close"/> mark HTTP/1.0
/// answers that close the connection, so a node's upstream connections have one wrapper.
/// </summary>
internal sealed class FaultStream(Stream inner, FaultInjector faults, string host, int port, Proxy.AnswerWatch? watch = null, Proxy.Http10Close? close = null)
    : Stream
{
    // HttpClient cancels a stuck request by disposing its connection, not through the read's token.
    private readonly CancellationTokenSource _closed = new();

    private async ValueTask StallIfBlackholedAsync(CancellationToken ct)
    {
        var fault = faults.For(host, port);
        if (fault is { Kind: FaultKind.Reset })
        {
            throw new IOException($"The connection to {host}:{port} was reset (fault layer).");
        }

        if (fault is not { Kind: FaultKind.Blackhole })
        {
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
        try
        {
            while (faults.For(host, port) is { Kind: FaultKind.Blackhole })
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, linked.Token);
            }
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new IOException("The connection was closed while its link was blackholed.");
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (faults.Any)
        {
            return ReadWithFaultsAsync(buffer, cancellationToken);
        }

        // No fault anywhere (production, most of the time): no state machine unless the read has to wait, and then
        // only to check once it completes whether a fault began meanwhile.
        ValueTask<int> read;
        try
        {
            read = inner.ReadAsync(close?.ReadInto(buffer) ?? buffer, cancellationToken);
        }
        catch (Exception e)
        {
            watch?.Failed(e);
            throw;
        }

        if (read.IsCompletedSuccessfully)
        {
            return new ValueTask<int>(Saw(buffer.Span, read.Result)); // a result, not the source's task read a second time
        }

        return AfterReadAsync(read, buffer, cancellationToken);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> AfterReadAsync(ValueTask<int> read, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int n;
        try
        {
            n = await read.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            watch?.Failed(e);
            throw;
        }

        n = Saw(buffer.Span, n);
        if (faults.Any)
        {
            await HoldBackAsync(cancellationToken);
        }

        return n;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadWithFaultsAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // Bytes already received are readable (they are in the socket buffer); new ones stop arriving, and bytes that
        // arrive while the link is dark are held back until it heals, as TCP would retransmit them.
        int n;
        try
        {
            await StallIfBlackholedAsync(cancellationToken);
            n = await inner.ReadAsync(close?.ReadInto(buffer) ?? buffer, cancellationToken);
        }
        catch (Exception e)
        {
            watch?.Failed(e);
            throw;
        }

        n = Saw(buffer.Span, n);
        await HoldBackAsync(cancellationToken);
        return n;
    }

    /// <summary>A read put <paramref name="n"/> bytes into <paramref name="buffer"/>: returns how many the caller gets.</summary>
    private int Saw(Span<byte> buffer, int n)
    {
        n = close?.Read(buffer, n) ?? n;
        watch?.Read(buffer, n);
        return n;
    }

    private async ValueTask HoldBackAsync(CancellationToken cancellationToken)
    {
        await StallIfBlackholedAsync(cancellationToken);
        if (faults.For(host, port) is { Kind: FaultKind.Delay } slow)
        {
            await Task.Delay(slow.Delay, TimeProvider.System, cancellationToken);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        watch?.Wrote();
        close?.Wrote();
        return faults.Any ? WriteWithFaultsAsync(buffer, cancellationToken) : inner.WriteAsync(buffer, cancellationToken);
    }

    private async ValueTask WriteWithFaultsAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await StallIfBlackholedAsync(cancellationToken);
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count)
    {
        try
        {
            var into = close?.ReadInto(buffer.AsMemory(offset, count)).Length ?? count;
            return Saw(buffer.AsSpan(offset, count), inner.Read(buffer, offset, into));
        }
        catch (Exception e)
        {
            watch?.Failed(e);
            throw;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count)
    {
        watch?.Wrote();
        close?.Wrote();
        inner.Write(buffer, offset, count);
    }

    protected override void Dispose(bool disposing)
    {
        watch?.Disposing();
        if (disposing)
        {
            _closed.Cancel();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
