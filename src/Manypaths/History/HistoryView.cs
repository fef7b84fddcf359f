namespace Manypaths.History;

/// <summary>
/// What the page draws from the history of one service: uptime by hour for 24 h and by day for 90 days, and p50/p99
/// for the last 60 minutes. Read from the store at most every 10 s per service (the page is polled every second).
/// </summary>
internal sealed class HistoryView(HistoryStore store, TimeProvider time)
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(10);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (DateTimeOffset At, ServiceHistory History)> _cache = new(StringComparer.Ordinal);

    /// <summary>The service's history, with <paramref name="current"/> (the minute still running) counted in its hour and day.</summary>
    public ServiceHistory For(string service, MinuteRow? current)
    {
        var stored = For(service);
        if (current is null)
        {
            return stored;
        }

        return stored with { Hourly = stored.Hourly.Select(b => With(b, current)).ToList(), Daily = stored.Daily.Select(b => With(b, current)).ToList() };
    }

    private static UptimeBar With(UptimeBar bar, MinuteRow m)
    {
        if (m.Start < bar.Start || m.Start >= bar.Start + bar.Length || m.UpSeconds + m.DownSeconds == 0)
        {
            return bar;
        }

        var seconds = bar.Up is { } up ? (up, bar.SampledSeconds) : (0.0, 0L);
        var total = seconds.Item2 + m.UpSeconds + m.DownSeconds;
        return bar with
        {
            Up = ((seconds.Item1 * seconds.Item2) + m.UpSeconds) / total,
            SampledSeconds = total,
            DownSeconds = bar.DownSeconds + m.DownSeconds,
            Requests = bar.Requests + m.Requests,
            Failures = bar.Failures + m.Failures,
        };
    }

    public ServiceHistory For(string service)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_cache.TryGetValue(service, out var hit) && now - hit.At < Fresh)
            {
                return hit.History;
            }
        }

        var thisHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        List<MinuteRow> minutes, hours;
        try
        {
            minutes = store.Rows(service, thisHour.AddHours(-23), now.AddMinutes(1), hours: false);
            hours = store.Rows(service, thisHour.AddDays(-90), now.AddMinutes(1), hours: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An unreadable history (disk, a removed folder) degrades the bars, never the page: the last ones, or none.
            lock (_lock)
            {
                return _cache.TryGetValue(service, out var last) ? last.History : new ServiceHistory([], [], []);
            }
        }

        var hourly = Enumerable.Range(0, 24).Select(i => thisHour.AddHours(i - 23))
            .Select(h => Bar(h, TimeSpan.FromHours(1), minutes.Where(m => m.Start >= h && m.Start < h.AddHours(1)))).ToList();
        var today = thisHour.AddHours(-thisHour.Hour);
        var daily = Enumerable.Range(0, 90).Select(i => today.AddDays(i - 89))
            .Select(d => Bar(d, TimeSpan.FromDays(1), hours.Where(h => h.Start >= d && h.Start < d.AddDays(1)))).ToList();
        var lastHour = minutes.Where(m => m.Start >= now.AddMinutes(-60)).ToList();
        var history = new ServiceHistory(hourly, daily, lastHour.Select(m => (m.Start, m.P50Ms, m.P99Ms)).ToList());
        lock (_lock)
        {
            _cache[service] = (now, history);
        }

        return history;
    }

    /// <summary>Up share of the seconds sampled (maintenance left out); null when nothing was sampled in it.</summary>
    private static UptimeBar Bar(DateTimeOffset start, TimeSpan length, IEnumerable<MinuteRow> rows)
    {
        long up = 0, down = 0, requests = 0, failures = 0;
        foreach (var r in rows)
        {
            up += r.UpSeconds;
            down += r.DownSeconds;
            requests += r.Requests;
            failures += r.Failures;
        }

        return new UptimeBar(start, length, up + down == 0 ? null : (double)up / (up + down), down, requests, failures, up + down);
    }
}

/// <param name="Up">0..1, or null when the node kept no samples then.</param>
/// <param name="SampledSeconds">Seconds sampled up or down in it (maintenance left out).</param>
internal sealed record UptimeBar(DateTimeOffset Start, TimeSpan Length, double? Up, long DownSeconds, long Requests, long Failures, long SampledSeconds);

internal sealed record ServiceHistory(IReadOnlyList<UptimeBar> Hourly, IReadOnlyList<UptimeBar> Daily, IReadOnlyList<(DateTimeOffset At, double? P50, double? P99)> Latency);
