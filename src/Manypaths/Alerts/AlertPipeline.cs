using Manypaths.Config;
using Manypaths.History;

namespace Manypaths.Alerts;

/// <summary>
/// Damping and grouping, pure (the caller's clock through <see cref="Tick"/>): a new state must last
/// <see cref="AlertOptions.Hold"/> before it is announced (a service going down skips the hold), a state that flips
/// back within the hold is never announced, and events released within <see cref="AlertOptions.Group"/> of the first
/// go out as one alert. Not thread-safe: one caller.
/// </summary>
internal sealed class AlertPipeline(AlertOptions options, string cluster)
{
    private static readonly HashSet<string> Alerted = new(["service", "failover", "region", "upstream", "link", "node", "maintenance"], StringComparer.Ordinal);
    private readonly Dictionary<(string Kind, string Subject), string> _announced = [];
    private readonly Dictionary<(string Kind, string Subject), (Transition Change, DateTimeOffset Due)> _pending = [];
    private readonly List<AlertEvent> _group = [];
    private DateTimeOffset? _groupEnds;

    /// <summary>The same pipeline (what was announced, what waits, the open group) with new hold and group times.</summary>
    public AlertPipeline With(AlertOptions newOptions)
    {
        var next = new AlertPipeline(newOptions, cluster);
        foreach (var (k, v) in _announced)
        {
            next._announced[k] = v;
        }

        foreach (var (k, v) in _pending)
        {
            next._pending[k] = v;
        }

        next._group.AddRange(_group);
        next._groupEnds = _groupEnds;
        return next;
    }

    public void Add(Transition t)
    {
        if (!Alerted.Contains(t.Kind))
        {
            return;
        }

        var key = (t.Kind, t.Subject);
        // What receivers last heard: the last announced state, else the state before the change now held back.
        var announced = _announced.GetValueOrDefault(key) ?? (_pending.TryGetValue(key, out var held) ? held.Change.From : t.From);
        if (t.To == announced)
        {
            _pending.Remove(key); // back to what was last announced within the hold: nothing to say
            return;
        }

        var immediate = t.Kind == "service" && t.To == "down";
        _pending[key] = (t with { From = announced }, immediate ? t.At : t.At + options.Hold);
    }

    /// <returns>A group of events to send now, or null.</returns>
    public List<AlertEvent>? Tick(DateTimeOffset now)
    {
        foreach (var (key, (change, due)) in _pending.Where(p => p.Value.Due <= now).OrderBy(p => p.Value.Due).ToList())
        {
            _pending.Remove(key);
            _announced[key] = change.To;
            _group.Add(new AlertEvent(change.Kind, change.Subject, change.From, change.To, change.At, AlertEvent.KeyOf(cluster, change.Kind, change.Subject, change.To)));
            _groupEnds ??= now + options.Group;
        }

        if (_groupEnds is { } ends && now >= ends)
        {
            var batch = _group.ToList();
            _group.Clear();
            _groupEnds = null;
            return batch;
        }

        return null;
    }
}
