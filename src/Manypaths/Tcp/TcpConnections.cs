using System.Collections.Concurrent;

namespace Manypaths.Tcp;

/// <summary>
/// The live sessions of one tcp service on this node, so a demotion can close them. Kept by the node per service name
/// across config generations: a session opened before a reload is still closed when its upstream is demoted after it.
/// </summary>
internal sealed class TcpConnections
{
    private readonly ConcurrentDictionary<TcpSession, byte> _sessions = new();
    private readonly ConcurrentDictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public int To(string upstream) => _sessions.Keys.Count(s => s.UpstreamName == upstream);

    /// <summary>Takes a place for a new client, within the service's and the client's limits.</summary>
    public bool TryEnter(string client, int maxConnections, int maxPerClient)
    {
        if (Interlocked.Increment(ref _count) > maxConnections)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        var mine = _perClient.AddOrUpdate(client, 1, (_, n) => n + 1);
        if (mine > maxPerClient)
        {
            Leave(client);
            return false;
        }

        return true;
    }

    public void Leave(string client)
    {
        Interlocked.Decrement(ref _count);
        var left = _perClient.AddOrUpdate(client, 0, (_, n) => n - 1);
        if (left <= 0)
        {
            _perClient.TryRemove(new KeyValuePair<string, int>(client, left));
        }
    }

    public void Add(TcpSession session) => _sessions.TryAdd(session, 0);

    public void Remove(TcpSession session) => _sessions.TryRemove(session, out _);

    /// <summary>Closes every session to <paramref name="upstream"/> through <paramref name="peer"/> (null: direct); returns how many.</summary>
    public int CloseAll(string upstream, string? peer, string why)
    {
        var closed = 0;
        foreach (var s in _sessions.Keys)
        {
            if (s.UpstreamName == upstream && s.Peer == peer)
            {
                s.Close(why);
                closed++;
            }
        }

        return closed;
    }

    public int On(string upstream, string? peer) => _sessions.Keys.Count(s => s.UpstreamName == upstream && s.Peer == peer);

    /// <summary>Closes every session (the node stops, or the service left the config).</summary>
    public void CloseAll(string why)
    {
        foreach (var s in _sessions.Keys)
        {
            s.Close(why);
        }
    }
}
