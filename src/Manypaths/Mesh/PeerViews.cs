namespace Manypaths.Mesh;

/// <summary>The newest direct views each peer sent; an older (boot, version) never replaces a newer one.</summary>
internal sealed class PeerViews
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long Boot, long Version, Dictionary<(string, string), RemoteView> Views)> _byOrigin = new(StringComparer.Ordinal);

    /// <returns>False when the message was stale and ignored.</returns>
    public bool Update(string origin, long boot, long version, IReadOnlyList<RemoteView> views)
    {
        lock (_lock)
        {
            if (_byOrigin.TryGetValue(origin, out var current) &&
                (boot < current.Boot || (boot == current.Boot && version < current.Version)))
            {
                return false;
            }

            _byOrigin[origin] = (boot, version, views.ToDictionary(v => (v.Service, v.Upstream)));
            return true;
        }
    }

    public RemoteView? Get(string origin, string service, string upstream)
    {
        lock (_lock)
        {
            return _byOrigin.TryGetValue(origin, out var o) && o.Views.TryGetValue((service, upstream), out var v) ? v : null;
        }
    }
}
