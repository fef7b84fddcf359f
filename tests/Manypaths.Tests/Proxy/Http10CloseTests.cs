using System.Text;
using Manypaths.Proxy;

namespace Manypaths.Tests.Proxy;

/// <summary>
/// An HTTP/1.0 answer without keep-alive is handed on saying <c>Connection: close</c> (what the server does with the
/// connection), so the handler never reuses it; everything else passes byte for byte.
/// </summary>
public sealed class Http10CloseTests
{
    /// <summary>Reads <paramref name="answer"/> as the first bytes after a request, into a buffer of
    /// <paramref name="size"/> bytes, as the connection's stream does; returns what the caller gets.</summary>
    private static string FirstRead(Http10Close close, string answer, int size = 4096)
    {
        var buffer = new byte[size];
        var into = close.ReadInto(buffer);
        var bytes = Encoding.ASCII.GetBytes(answer);
        var n = Math.Min(bytes.Length, into.Length);
        bytes.AsSpan(0, n).CopyTo(into.Span);
        return Encoding.ASCII.GetString(buffer, 0, close.Read(buffer, n));
    }

    private static Http10Close AfterARequest()
    {
        var close = new Http10Close();
        close.Wrote();
        return close;
    }

    [Fact]
    public void AnHttp10AnswerWithoutKeepAlive_SaysConnectionClose_AfterItsStatusLine_WithEveryOtherByteKept()
    {
        var got = FirstRead(AfterARequest(), "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nContent-Length: 5\r\n\r\nhello");
        Assert.Equal("HTTP/1.0 200 OK\r\nConnection: close\r\nServer: SimpleHTTP/0.6\r\nContent-Length: 5\r\n\r\nhello", got);
    }

    [Theory]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok")] // it keeps the connection
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")] // HTTP/1.1 keeps it unless it says otherwise
    [InlineData("HTTP/1.0 20")] // the status line is not read whole yet: left as it is
    public void AnAnswerThatKeepsItsConnection_OrIsNotClearYet_PassesUntouched(string answer)
    {
        Assert.Equal(answer, FirstRead(AfterARequest(), answer));
    }

    [Fact]
    public void OnlyTheFirstBytesOfAnAnswer_AreLookedAt_NeverItsBody()
    {
        var close = AfterARequest();
        FirstRead(close, "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n");
        var body = "HTTP/1.0 200 OK\r\n (a body that quotes one)";
        Assert.Equal(body, FirstRead(close, body));

        Assert.Equal("HTTP/1.0 200 OK\r\n\r\n", FirstRead(new Http10Close(), "HTTP/1.0 200 OK\r\n\r\n")); // nothing was asked
    }

    [Fact]
    public void TheFirstReadOfAnAnswer_LeavesRoomForTheHeader_AndABufferWithoutRoom_IsLeftAlone()
    {
        var close = AfterARequest();
        Assert.Equal(4096 - Http10Close.Header.Length, close.ReadInto(new byte[4096]).Length);
        Assert.Equal(0, close.ReadInto(Memory<byte>.Empty).Length); // a zero-byte read only waits for data

        var full = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        var buffer = Encoding.ASCII.GetBytes(full); // filled to the brim by a read made before the request was written
        Assert.Equal(full.Length, close.Read(buffer, buffer.Length));
    }
}
