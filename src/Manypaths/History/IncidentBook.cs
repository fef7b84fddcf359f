namespace Manypaths.History;

/// <summary>
/// Opens an incident on a transition into service down, a later tier, or relayed only, and closes it on the
/// transition back; keeps the open ones and the last 200 closed ones. Thread-safe (the sampler writes, the API reads).
/// </summary>
internal sealed class IncidentBook(string node)
{
    private const int ClosedKept = 200;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Kind, string Service), Incident> _open = [];
    private readonly LinkedList<Incident> _closed = new();
    private readonly List<IncidentNote> _notes = [];

    /// <returns>The incidents this transition opened or closed.</returns>
    public List<Incident> Apply(Transition t)
    {
        var changed = new List<Incident>();
        var (kind, opens, closes) = t.Kind switch
        {
            "service" => ("down", t.To == "down", t.From == "down"),
            "failover" => ("failover", t.To != "primary", t.To == "primary"),
            "relayed" => ("relayed", t.To == "relayed", t.From == "relayed"),
            "region" => ("region", t.To != "local", t.To == "local"),
            _ => ("", false, false),
        };
        if (kind.Length == 0)
        {
            return changed;
        }

        lock (_lock)
        {
            if (closes && _open.Remove((kind, t.Subject), out var open))
            {
                var closed = open with { End = t.At };
                _closed.AddFirst(closed);
                if (_closed.Count > ClosedKept)
                {
                    _closed.RemoveLast();
                }

                changed.Add(closed);
            }

            if (opens && !_open.ContainsKey((kind, t.Subject)))
            {
                var title = kind switch
                {
                    "down" => $"{t.Subject} is down",
                    "failover" => $"{t.Subject} is served by {t.To}",
                    "region" => $"{t.Subject} is served from another region ({t.To})",
                    _ => $"{t.Subject} is served only through peers",
                };
                var incident = new Incident($"{kind}-{t.Subject}-{t.At.ToUnixTimeSeconds()}", kind, t.Subject, title, t.At, null, [node], [], t.To);
                _open[(kind, t.Subject)] = incident;
                changed.Add(incident);
            }
        }

        return changed;
    }

    /// <summary>An operator's note on an incident (by the cluster-wide id <see cref="IncidentMerge"/> shows); the last 500 are kept.</summary>
    public void AddNote(string id, string text, DateTimeOffset at)
    {
        lock (_lock)
        {
            _notes.Add(new IncidentNote(id, at, text));
            if (_notes.Count > 500)
            {
                _notes.RemoveAt(0);
            }
        }
    }

    /// <summary>
    /// A restarted node's past: closed incidents and notes as stored. An incident that was open when the node stopped
    /// is kept open only if its condition still holds (<paramref name="stillOpen"/>, asked at the first sample); else
    /// it is closed now, the latest it can have ended (the node was not watching in between).
    /// </summary>
    public List<Incident> Restore(IEnumerable<Incident> stored, IEnumerable<IncidentNote> notes, Func<Incident, bool> stillOpen, DateTimeOffset now)
    {
        var closedNow = new List<Incident>();
        lock (_lock)
        {
            foreach (var i in stored.OrderByDescending(i => i.End ?? i.Start))
            {
                if (i.End is not null)
                {
                    _closed.AddLast(i);
                }
                else if (stillOpen(i))
                {
                    _open[(i.Kind, i.Service)] = i;
                }
                else
                {
                    var closed = i with { End = now };
                    _closed.AddFirst(closed);
                    closedNow.Add(closed);
                }
            }

            _notes.InsertRange(0, notes);
        }

        return closedNow;
    }

    /// <summary>This node's own incidents and notes, as peers fetch them.</summary>
    public IncidentShare Share()
    {
        lock (_lock)
        {
            return new IncidentShare([.. _open.Values.OrderByDescending(i => i.Start), .. _closed], [.. _notes]);
        }
    }

    /// <summary>Open incidents first (newest first), then closed ones, newest first.</summary>
    public List<Incident> All()
    {
        lock (_lock)
        {
            return [.. _open.Values.OrderByDescending(i => i.Start), .. _closed];
        }
    }
}
