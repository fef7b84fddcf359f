namespace Manypaths.Service;

/// <summary>
/// The connect race of one request: the slow attempt, and each one started beside a slow connect on another path
/// of its tier. The first of them to have a connection wins, and any other is cancelled as its own connect succeeds,
/// before its request can take that connection (the connection stays in the pool). So a raced GET is sent once, as
/// in Happy Eyeballs. An attempt may have taken an idle pooled connection and made no connect at all: while it runs
/// with no connect of its own pending (none failed), or once it has an answer, it counts as connected first.
/// </summary>
internal sealed class ConnectRace
{
    private readonly Lock _lock = new();
    private readonly List<(Attempt Attempt, Task? Task)> _runners = new(2);
    private int _winner;

    /// <summary>An attempt takes part (the slow one; one beside it before it runs). Once each.</summary>
    public void Join(Attempt attempt)
    {
        lock (_lock)
        {
            if (!_runners.Exists(r => r.Attempt == attempt))
            {
                _runners.Add((attempt, null));
            }
        }
    }

    /// <summary>A participant runs as <paramref name="task"/> (so one that ended is known not to hold a connection).</summary>
    public void Runs(Attempt attempt, Task task)
    {
        lock (_lock)
        {
            var i = _runners.FindIndex(r => r.Attempt == attempt);
            if (i >= 0)
            {
                _runners[i] = (attempt, task);
            }
        }
    }

    /// <summary>A participant's own connect succeeded: true when it is the first of them with a connection.</summary>
    public bool TryWin(Attempt attempt)
    {
        lock (_lock)
        {
            if (_winner == 0)
            {
                foreach (var (other, task) in _runners)
                {
                    if (other != attempt && HasAConnection(other, task))
                    {
                        _winner = other.Number;
                        break;
                    }
                }

                _winner = _winner == 0 ? attempt.Number : _winner;
            }

            return _winner == attempt.Number;
        }
    }

    /// <summary>Sending on a connection it already had: an answer came, or it runs with no connect of its own pending
    /// and none failed. One about to start its connect counts too: it will connect, and its path is the faster.</summary>
    private static bool HasAConnection(Attempt other, Task? task) =>
        !other.LostConnectRace && !other.ConnectFailed && !other.CancelledOnPurpose
        && (other.FirstByte || (!other.ConnectPending && task is not { IsCompleted: true }));
}
