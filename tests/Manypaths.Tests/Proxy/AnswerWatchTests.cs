using System.Net;
using System.Net.Sockets;
using Manypaths.Mesh;
using Manypaths.Proxy;

namespace Manypaths.Tests.Proxy;

/// <summary>Over a real loopback connection, through the node's upstream stream: only a close by the other side while a
/// request waits for its answer is told.</summary>
public sealed class AnswerWatchTests
{
    private readonly List<string> _told = [];

    private async Task<(Stream Watch, Socket Server)> ConnectAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        var server = await listener.AcceptSocketAsync();
        var watch = new AnswerWatch("127.0.0.1:1", e => { lock (_told) { _told.Add(e); } });
        return (new FaultStream(new NetworkStream(client, ownsSocket: true), new FaultInjector(), "127.0.0.1", 1, watch), server);
    }

    [Theory]
    [InlineData(false)] // a FIN: what a killed process's kernel sends for an idle socket
    [InlineData(true)] // a reset: what it sends when a request was left unread
    public async Task AClose_WhileARequestWaitsForItsAnswer_IsTold(bool reset)
    {
        var (watch, server) = await ConnectAsync();
        await watch.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        Assert.True(await server.ReceiveAsync(new byte[100]) > 0); // the upstream read it (else its close is a reset anyway)
        var read = watch.ReadAsync(new byte[100]).AsTask();
        server.LingerState = new LingerOption(reset, 0);
        server.Dispose();
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            if (await read == 0)
            {
                throw new EndOfStreamException();
            }
        });
        Assert.Equal(["127.0.0.1:1"], _told);
        await watch.DisposeAsync();
    }

    [Fact]
    public async Task AnIdleConnectionClosing_OrOneClosedAfterItsAnswerBegan_IsNotTold()
    {
        var (idle, idleServer) = await ConnectAsync();
        var idleRead = idle.ReadAsync(new byte[100]).AsTask(); // SocketsHttpHandler's read-ahead on a pooled connection
        idleServer.Dispose();
        Assert.Equal(0, await idleRead);

        var (answered, answeredServer) = await ConnectAsync();
        await answered.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        Assert.True(await answeredServer.ReceiveAsync(new byte[100]) > 0); // read, so its close is a FIN
        await answeredServer.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray());
        Assert.True(await answered.ReadAsync(new byte[100]) > 0);
        answeredServer.Dispose();
        Assert.Equal(0, await answered.ReadAsync(new byte[100]));

        Assert.Empty(_told);
        await idle.DisposeAsync();
        await answered.DisposeAsync();
    }

    [Fact]
    public async Task ThisSideClosingUnderAWaitingRequest_IsNotTold()
    {
        var (watch, server) = await ConnectAsync();
        await watch.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        var read = watch.ReadAsync(new byte[100]).AsTask();
        await watch.DisposeAsync(); // a cancelled attempt: the handler disposes its connection
        try
        {
            await read;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }

        Assert.Empty(_told);
        server.Dispose();
    }

    [Fact]
    public async Task AZeroByteRead_IsNotAClose()
    {
        var (watch, server) = await ConnectAsync();
        await watch.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        await server.SendAsync("H"u8.ToArray());
        Assert.Equal(0, await watch.ReadAsync(Memory<byte>.Empty)); // waits for data, reads none
        Assert.Empty(_told);
        await watch.DisposeAsync();
        server.Dispose();
    }
}
