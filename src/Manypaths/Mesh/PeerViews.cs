namespace Manypaths.Mesh;

/// <summary>
/// Each peer's newest direct view of each upstream, from its State datagrams (the heartbeat gate has already
/// dropped stale and replayed ones). A view not refreshed within <paramref name="keepFor"/> is forgotten, so an
/// upstream a peer stopped reporting (its config changed) is not relayed through it on old news.
/// </summary>
internal sealed class PeerViews(TimeProvider time, TimeSpan keepFor)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Origin, string Service, string Upstream), (RemoteView View, DateTimeOffset At)> _views = [];

    public void Merge(string origin, IReadOnlyList<RemoteView> views)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            foreach (var v in views)
            {
                _views[(origin, v.Service, v.Upstream)] = (v, now);
            }
        }
    }

    public RemoteView? Get(string origin, string service, string upstream)
    {
        lock (_lock)
        {
            return _views.TryGetValue((origin, service, upstream), out var e) && time.GetUtcNow() - e.At <= keepFor ? e.View : null;
        }
    }
}
