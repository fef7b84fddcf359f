using Manypaths.Routing;

namespace Manypaths.Service;

/// <summary>Why an attempt was started.</summary>
internal enum AttemptKind
{
    First,

    /// <summary>The one before it failed.</summary>
    Retry,

    /// <summary>The one before it had no answer after the path's usual time (idempotent requests).</summary>
    Hedge,

    /// <summary>The one before it could not connect in the path's usual time: a connect beside it, same tier.</summary>
    Race,

    /// <summary>The path of the one before it was judged down while it waited: started again elsewhere.</summary>
    Rescue,
}

/// <summary>
/// One attempt of one request on one path, as the attempt loop and the front end's runner share it: what phase it
/// is in (a connect of its own pending, first byte received), whether its path was judged down, and its token.
/// </summary>
internal sealed class Attempt : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly CancellationToken _loop;
    private readonly Action? _wake;
    private int _cancelled;
    private int _rescue;
    private long _connectStarted;
    private long _connectDone;
    private int _connectPending;
    private int _firstByte;
    private ConnectRace? _race;
    private int _lostRace;
    private int _connectFailed;
    private int _sentOnAnother;
    private readonly TimeProvider _time;

    /// <param name="loop">The request's token. Not linked: the loop cancels every attempt when the request ends (no
    /// registration per attempt on the request's token).</param>
    /// <param name="wake">Wakes the loop (called on the thread pool): when <see cref="RequestRescue"/> is first called,
    /// and when a connect starts (the loop then arms its race timer).</param>
    public Attempt(int number, AttemptKind kind, PathChoice path, TimeProvider time, CancellationToken loop, Action? wake = null)
    {
        _time = time;
        Number = number;
        Kind = kind;
        Path = path;
        Started = time.GetTimestamp();
        _loop = loop;
        _wake = wake;
    }

    /// <summary>1 for the first attempt of a request, then 2, 3...</summary>
    public int Number { get; }

    public AttemptKind Kind { get; }

    public PathChoice Path { get; }

    /// <summary>When it started (a TimeProvider timestamp).</summary>
    public long Started { get; }

    /// <summary>Cancelled by the loop (also when the request ends), or by the deadline the runner set (<see cref="StartDeadline"/>).</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>The loop or the request cancelled it (not a deadline of the runner's).</summary>
    public bool CancelledOnPurpose => Volatile.Read(ref _cancelled) == 1 || _loop.IsCancellationRequested;

    /// <summary>Cancels <see cref="Token"/> after <paramref name="delay"/> unless disarmed: the runner's own deadline
    /// (time to first byte) without a token source of its own per attempt.</summary>
    public Proxy.Deadline StartDeadline(TimeSpan delay, TimeProvider time) => Proxy.Deadline.Start(_cancel, delay, time);

    /// <summary>The endpoint (host:port) of the connect this attempt started, if it started one.</summary>
    public string? ConnectEndpoint { get; private set; }

    public bool ConnectPending => Volatile.Read(ref _connectPending) == 1;

    public long ConnectStarted => Volatile.Read(ref _connectStarted);

    public bool FirstByte => Volatile.Read(ref _firstByte) == 1;

    /// <summary>Set when the attempt's path was judged down while the attempt still waited.</summary>
    public bool RescueRequested => Volatile.Read(ref _rescue) == 1;

    /// <summary>The front end's message for this attempt (HTTP: its HttpRequestMessage), so a connect it starts can
    /// find the attempt that asked for it.</summary>
    public object? Request { get; set; }

    /// <summary>Set by the loop: a race was already started beside it.</summary>
    public bool Raced { get; set; }

    /// <summary>Set by the loop: its path was judged down and the loop decided (once) what to do about it.</summary>
    public bool RescueConsidered { get; set; }

    /// <summary>Set by the loop: it was given up and the request started again elsewhere; its outcome is ignored.</summary>
    public bool Abandoned { get; private set; }

    public void MarkConnectStarted(string endpoint, long timestamp)
    {
        ConnectEndpoint = endpoint;
        Volatile.Write(ref _sentOnAnother, 0);
        Volatile.Write(ref _connectStarted, timestamp);
        Volatile.Write(ref _connectPending, 1);
        if (_wake is { } wake)
        {
            // The loop may have armed no timer (hedging off, or its hedge already out): a slow connect is raced only
            // if the loop learns that it is connecting. A connect is rare beside pooled requests.
            ThreadPool.UnsafeQueueUserWorkItem(static w => w(), wake, preferLocal: false);
        }
    }

    /// <summary>Its connect ended, whether or not it succeeded (see <see cref="Connected"/> for a success).</summary>
    public void MarkConnectDone(long timestamp)
    {
        Volatile.Write(ref _connectDone, timestamp);
        Volatile.Write(ref _connectPending, 0);
    }

    /// <summary>Its own connect failed (or was cancelled): it sent nothing on it.</summary>
    public void MarkConnectFailed(long timestamp)
    {
        if (SentOnAnotherConnection)
        {
            return; // its request went out on another connection: this connect carried nothing of it
        }

        Volatile.Write(ref _connectFailed, 1);
        MarkConnectDone(timestamp);
    }

    public bool ConnectFailed => Volatile.Read(ref _connectFailed) == 1;

    /// <summary>
    /// Its own connect succeeded. In a connect race the first connection wins: when the other attempt had one
    /// first, this one is cancelled here, before its request can take the new connection, and false is returned.
    /// </summary>
    public bool Connected(long timestamp)
    {
        if (SentOnAnotherConnection)
        {
            return true; // its request went out on another connection already; this one goes to the pool
        }

        Volatile.Write(ref _connectDone, timestamp);
        return HasConnectionNow();
    }

    /// <summary>
    /// No longer connecting: false (and cancelled, before its request can send) when another attempt of its connect
    /// race had a connection first. A full fence, then the race is read: the loop joins the race, then reads
    /// ConnectPending (JoinRace), so either it sees this connect done and starts no race, or this sees the race.
    /// </summary>
    private bool HasConnectionNow()
    {
        Interlocked.Exchange(ref _connectPending, 0);
        if (Volatile.Read(ref _race) is { } race && !race.TryWin(this))
        {
            Volatile.Write(ref _lostRace, 1);
            Cancel();
            return false;
        }

        return true;
    }

    /// <summary>
    /// Its request left the pool's queue with a connection (<see cref="Proxy.PoolHandOff"/>). SocketsHttpHandler gives
    /// a waiting request whichever connection comes free first, so while its own connect is still pending the request
    /// is being sent on another one: it is no longer connecting (no race starts beside it), and in a race it may win.
    /// One that comes second to an attempt of its race that had a connection is cancelled here, before it can send.
    /// </summary>
    public void TookConnection()
    {
        if (Volatile.Read(ref _connectPending) == 0 || _cancel.IsCancellationRequested)
        {
            return; // it took the connection its own connect made (Connected decided), or it left the queue cancelled
        }

        Volatile.Write(ref _connectDone, _time.GetTimestamp());
        Volatile.Write(ref _sentOnAnother, 1);
        HasConnectionNow();
    }

    /// <summary>Its request went out on a connection that came free while its own connect was pending.</summary>
    public bool SentOnAnotherConnection => Volatile.Read(ref _sentOnAnother) == 1;

    /// <summary>
    /// Joins its request's connect race (the loop: for a slow attempt, and for one started beside it before it runs).
    /// For a slow attempt, true when its connect is still pending and a race is worth starting.
    /// </summary>
    public bool JoinRace(ConnectRace race)
    {
        race.Join(this);
        Interlocked.Exchange(ref _race, race);
        return ConnectPending;
    }

    /// <summary>Its connect succeeded after the other attempt of its connect race had connected: it sent nothing.</summary>
    public bool LostConnectRace => Volatile.Read(ref _lostRace) == 1;

    /// <summary>Since when it has waited for an answer: its start, or the end of the connect it had to make.</summary>
    public long WaitingSince => Math.Max(Started, Volatile.Read(ref _connectDone));

    public void MarkFirstByte() => Volatile.Write(ref _firstByte, 1);

    /// <summary>Its path was judged down: the loop is woken on the thread pool, never inside the caller (a health
    /// transition, under its locks).</summary>
    public void RequestRescue()
    {
        if (Interlocked.Exchange(ref _rescue, 1) == 0 && _wake is { } wake)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static w => w(), wake, preferLocal: false);
        }
    }

    /// <summary>Gives the attempt up: cancels it (its connection is closed) and ignores whatever it returns.</summary>
    public void Abandon()
    {
        Abandoned = true;
        Cancel();
    }

    public void Cancel()
    {
        Volatile.Write(ref _cancelled, 1);
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _cancel.Dispose();
}
