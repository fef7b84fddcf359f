using System.Collections.Concurrent;
using Manypaths.Health;

namespace Manypaths.Service;

/// <summary>
/// The health of every relayed path (upstream, peer) of one service: the same state machine as a direct path, kept
/// by the node's health registry across reloads. Its "probes" are the peer's heartbeats (its view of the upstream);
/// its passive results are real relayed attempts. A path judged down rescues the attempts waiting on it.
/// </summary>
/// <param name="changed">Every state change of a relayed path (a path judged down rescues what waits on it).</param>
internal sealed class RelayPathBook(Func<int, string, UpstreamHealth> create, Action<int, string, HealthTransition> changed) : IDisposable
{
    private readonly ConcurrentDictionary<(int Upstream, string Peer), (UpstreamHealth Health, Action<HealthTransition> Handler)> _paths = new();

    public UpstreamHealth Get(int upstream, string peer) => _paths.GetOrAdd((upstream, peer), key =>
    {
        var health = create(key.Upstream, key.Peer);
        Action<HealthTransition> handler = t => changed(key.Upstream, key.Peer, t);
        health.Transitioned += handler;
        return (health, handler);
    }).Health;

    public void Dispose()
    {
        foreach (var (health, handler) in _paths.Values)
        {
            health.Transitioned -= handler;
        }
    }
}
