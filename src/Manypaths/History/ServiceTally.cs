namespace Manypaths.History;

/// <summary>
/// The current minute of one service on this node, filled by the data plane (one short lock per request, no I/O)
/// and by the sampler (a state per second), and taken whole once a minute. Outlives config generations.
/// </summary>
internal sealed class ServiceTally(string service)
{
    private readonly Lock _lock = new();
    private Minute _current = new();

    public string Service => service;

    /// <summary>The service's last complete minute (null before the first minute ended).</summary>
    public MinuteRow? LastMinute { get; private set; }

    /// <summary>One request ended: served by <paramref name="upstream"/> (null: none answered) on <paramref name="path"/>.</summary>
    public void Record(string? upstream, ServedPath path, bool failed, double ms)
    {
        lock (_lock)
        {
            _current.Whole.Add(path, failed, ms);
            if (upstream is not null)
            {
                if (!_current.Upstreams.TryGetValue(upstream, out var u))
                {
                    _current.Upstreams[upstream] = u = new Counts();
                }

                u.Add(path, failed, ms);
            }
        }
    }

    /// <summary>The sampler's second: the service's state on the page (healthy, degraded, down, maintenance).</summary>
    public void AddSecond(string state)
    {
        lock (_lock)
        {
            switch (state)
            {
                case "down": _current.Down++; break;
                case "maintenance": _current.Maintenance++; break;
                default: _current.Up++; break;
            }
        }
    }

    /// <summary>The service's minute so far (its "*" row), left running.</summary>
    public MinuteRow Peek(DateTimeOffset minute)
    {
        lock (_lock)
        {
            return _current.Whole.Row(service, "*", minute, _current.Up, _current.Down, _current.Maintenance);
        }
    }

    /// <summary>The minute so far as rows (the service's, then one per upstream), and a fresh minute begun.</summary>
    public List<MinuteRow> Take(DateTimeOffset minute)
    {
        Minute m;
        lock (_lock)
        {
            m = _current;
            _current = new Minute();
        }

        var rows = new List<MinuteRow> { m.Whole.Row(service, "*", minute, m.Up, m.Down, m.Maintenance) };
        LastMinute = rows[0];
        rows.AddRange(m.Upstreams.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => u.Value.Row(service, u.Key, minute, 0, 0, 0)));
        return rows;
    }

    private sealed class Minute
    {
        public Counts Whole { get; } = new();

        public Dictionary<string, Counts> Upstreams { get; } = new(StringComparer.Ordinal);

        public int Up { get; set; }

        public int Down { get; set; }

        public int Maintenance { get; set; }
    }

    private sealed class Counts
    {
        private readonly LatencyHistogram _latency = new();
        private long _failures;
        private long _direct;
        private long _relayed;
        private long _backup;

        public void Add(ServedPath path, bool failed, double ms)
        {
            _latency.Add(ms);
            _failures += failed ? 1 : 0;
            switch (path)
            {
                case ServedPath.Direct: _direct++; break;
                case ServedPath.Relayed: _relayed++; break;
                case ServedPath.Backup: _backup++; break;
            }
        }

        public MinuteRow Row(string service, string upstream, DateTimeOffset minute, int up, int down, int maintenance) =>
            new(service, upstream, minute, _latency.Count, _failures, Round(_latency.Percentile(0.5)), Round(_latency.Percentile(0.99)),
                _direct, _relayed, _backup, up, down, maintenance);

        private static double? Round(double? ms) => ms is { } v ? Math.Round(v, 2) : null;
    }
}
