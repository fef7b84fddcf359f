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

    /// <summary>Attempts on <paramref name="path"/> still waiting for a first byte, started at or before <paramref name="startedBy"/>.</summary>
    public int Overdue(PathKey path, long startedBy)
    {
        var overdue = 0;
        if (_byPath.TryGetValue(path, out var set))
        {
            foreach (var attempt in set.Keys)
            {
                if (!attempt.FirstByte && !attempt.Abandoned && attempt.Started <= startedBy)
                {
                    overdue++;
                }
            }
        }

        return overdue;
    }

    /// <summary>Every path through <paramref name="peer"/>.</summary>
    public int PeerDown(string peer) => _byPath.Keys.Where(k => k.Peer == peer).Sum(PathDown);
}
