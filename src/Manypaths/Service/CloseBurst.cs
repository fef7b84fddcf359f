namespace Manypaths.Service;

/// <summary>
/// Connections to one upstream endpoint that the upstream's side closed (a FIN or a reset) while a request on them
/// waited for its answer. One is a keep-alive race, or one request the upstream dropped. <see cref="Count"/> within
/// <see cref="Window"/> mean the upstream itself went away (killed, crashed, restarted without draining): the kernel
/// closes every connection it had at once. A graceful restart closes only idle connections, which are not counted.
/// <para>
/// These closes are watched on the connection itself (<see cref="Proxy.AnswerWatch"/>) because SocketsHttpHandler
/// hides most of them: a request whose reused connection closed before any answer is sent again on a new connection,
/// and the refusal of that connect comes a round trip later (at 250 ms round trips the kill of an upstream stayed
/// undetected for 255 ms while two requests a millisecond kept going to it).
/// </para>
/// </summary>
internal sealed class CloseBurst(TimeProvider time)
{
    public const int Count = 3;
    /// <summary>A kill's closes reach the kernel within a millisecond or two; the rest is room for a busy node's
    /// thread pool, which may run the reads that see them well apart.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private readonly long[] _recent = new long[Count];
    private int _next;
    private int _seen;

    /// <summary>One more connection closed under a request: true when it is the <see cref="Count"/>-th within
    /// <see cref="Window"/> (once per burst: the next needs <see cref="Count"/> more).</summary>
    public bool Add()
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            _recent[_next] = now;
            _next = (_next + 1) % Count;
            if (++_seen < Count || time.GetElapsedTime(_recent[_next], now) > Window)
            {
                return false;
            }

            _seen = 0;
            return true;
        }
    }
}
