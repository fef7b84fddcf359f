using System.Collections.Concurrent;
using Manypaths.Routing;

namespace Manypaths.Service;

/// <summary>
/// The attempts of one service that are waiting on each path right now, so that when a path is judged down (its
/// health goes Down, or the link to its peer goes down or starts draining) every one of them is told at once and
/// the attempt loop can start it again elsewhere instead of waiting out a timeout.
/// </summary>
internal sealed class InFlightAttempts
{
    private readonly ConcurrentDictionary<PathKey, ConcurrentDictionary<Attempt, byte>> _byPath = new();

    public void Register(Attempt attempt) => _byPath.GetOrAdd(attempt.Path.Key, _ => new()).TryAdd(attempt, 0);

    public void Unregister(Attempt attempt)
    {
        if (_byPath.TryGetValue(attempt.Path.Key, out var set))
        {
            set.TryRemove(attempt, out _);
        }
    }

    /// <summary>
    /// The attempt whose front-end message is <paramref name="request"/> (<see cref="Attempt.Request"/>), if it is
    /// still under way. A scan: asked only when a connection is dialled, which costs far more than the scan.
    /// </summary>
    public Attempt? Find(object request)
    {
        foreach (var (_, set) in _byPath)
        {
            foreach (var (attempt, _) in set)
            {
                if (ReferenceEquals(attempt.Request, request))
                {
                    return attempt;
                }
            }
        }

        return null;
    }

    /// <returns>How many waiting attempts were told.</returns>
    public int PathDown(PathKey path)
    {
        var told = 0;
        if (_byPath.TryGetValue(path, out var set))
        {
            foreach (var attempt in set.Keys)
            {
                if (!attempt.FirstByte)
                {
                    attempt.RequestRescue();
                    told++;
                }
            }
        }

        return told;
    }

    /// <summary>
    /// Attempts on <paramref name="path"/> still waiting for a first byte since <paramref name="waitingBy"/> or before
    /// (<see cref="Attempt.WaitingSince"/>: from their start, or from the end of a connect they had to make), and not
    /// in a connect now: one that is connecting (its pooled connection was closed under it and the handler dials
    /// again) waits on that connect, whose answer (a refusal, say) is coming. Also the soonest of their waits began.
    /// </summary>
    public (int Count, long Oldest) Overdue(PathKey path, long waitingBy)
    {
        var overdue = 0;
        var oldest = long.MaxValue;
        if (_byPath.TryGetValue(path, out var set))
        {
            foreach (var attempt in set.Keys)
            {
                var since = attempt.WaitingSince;
                if (!attempt.FirstByte && !attempt.Abandoned && !attempt.ConnectPending && since <= waitingBy)
                {
                    overdue++;
                    oldest = Math.Min(oldest, since);
                }
            }
        }

        return (overdue, oldest);
    }

    /// <summary>How many attempts wait on paths through <paramref name="peer"/> now.</summary>
    public int Through(string peer)
    {
        var n = 0;
        foreach (var (key, set) in _byPath)
        {
            n += key.Peer == peer ? set.Count : 0;
        }

        return n;
    }

    /// <summary>Every path through <paramref name="peer"/>.</summary>
    public int PeerDown(string peer) => _byPath.Keys.Where(k => k.Peer == peer).Sum(PathDown);
}
