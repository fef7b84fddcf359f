using Manypaths.Config;

namespace Manypaths.Health;

/// <summary>
/// Keeps each upstream's <see cref="UpstreamHealth"/> across config reloads, keyed by service, name and URL, so a
/// reload neither forgets a dead upstream nor resets a healthy one to Unknown.
/// </summary>
internal sealed class HealthRegistry(TimeProvider time)
{
    private readonly Lock _lock = new();
    private Dictionary<(string, string, string), UpstreamHealth> _entries = [];
    private Dictionary<(string, string, string, string), UpstreamHealth> _relayed = [];

    /// <summary>
    /// The health of the path to one upstream through one peer (the same state machine as a direct path), created
    /// on first use and kept across reloads like the direct ones.
    /// </summary>
    public UpstreamHealth Relayed(ServiceOptions service, UpstreamOptions upstream, string peer)
    {
        lock (_lock)
        {
            var key = (service.Name, upstream.Name, upstream.Url.ToString(), peer);
            if (!_relayed.TryGetValue(key, out var health))
            {
                _relayed[key] = health = new UpstreamHealth(service.Health, service.Passive, time);
            }

            return health;
        }
    }

    /// <summary>Returns the health for every upstream of the new config and forgets the rest.</summary>
    public IReadOnlyDictionary<(string Service, string Upstream), UpstreamHealth> Rebuild(IEnumerable<ServiceOptions> services, out IReadOnlyList<UpstreamHealth> created)
    {
        lock (_lock)
        {
            var next = new Dictionary<(string, string, string), UpstreamHealth>();
            var result = new Dictionary<(string, string), UpstreamHealth>();
            var fresh = new List<UpstreamHealth>();
            foreach (var s in services)
            {
                foreach (var u in s.Upstreams)
                {
                    var key = (s.Name, u.Name, u.Url.ToString());
                    if (_entries.TryGetValue(key, out var existing))
                    {
                        existing.Reconfigure(s.Health, s.Passive);
                    }
                    else
                    {
                        existing = new UpstreamHealth(s.Health, s.Passive, time);
                        fresh.Add(existing);
                    }

                    next[key] = existing;
                    result[(s.Name, u.Name)] = existing;
                }
            }

            _entries = next;
            _relayed = _relayed.Where(r => next.ContainsKey((r.Key.Item1, r.Key.Item2, r.Key.Item3))).ToDictionary(r => r.Key, r => r.Value);
            foreach (var s in services)
            {
                foreach (var r in _relayed.Where(r => r.Key.Item1 == s.Name))
                {
                    r.Value.Reconfigure(s.Health, s.Passive);
                }
            }

            created = fresh;
            return result;
        }
    }
}
