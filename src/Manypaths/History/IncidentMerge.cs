namespace Manypaths.History;

/// <summary>
/// The cluster's incidents from every node's own: incidents of one kind and service whose times overlap (or are
/// within 10 s: nodes see an outage a probe apart) are one incident, from the earliest start to the latest end (open
/// while any node has it open), seen by every node that had it, with its id and title from the earliest. Notes are
/// attached to the incident whose members include the id they were written for. Pure.
/// </summary>
internal static class IncidentMerge
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(10);

    public static List<Incident> Merge(IEnumerable<IncidentShare> shares)
    {
        var all = new List<Incident>();
        var notes = new HashSet<IncidentNote>();
        foreach (var share in shares)
        {
            all.AddRange(share.Incidents);
            notes.UnionWith(share.Notes);
        }

        var merged = new List<(Incident Incident, HashSet<string> Ids)>();
        foreach (var group in all.GroupBy(i => (i.Kind, i.Service)))
        {
            (Incident Incident, HashSet<string> Ids)? current = null;
            foreach (var i in group.OrderBy(i => i.Start).ThenBy(i => i.Id, StringComparer.Ordinal))
            {
                if (current is { } c && (c.Incident.End is null || i.Start <= c.Incident.End.Value + Slack))
                {
                    var end = c.Incident.End is null || i.End is null ? null : (DateTimeOffset?)(i.End > c.Incident.End ? i.End : c.Incident.End);
                    c.Ids.Add(i.Id);
                    current = (c.Incident with { End = end, Nodes = c.Incident.Nodes.Union(i.Nodes).Order(StringComparer.Ordinal).ToList() }, c.Ids);
                }
                else
                {
                    if (current is { } done)
                    {
                        merged.Add(done);
                    }

                    current = (i with { Updates = [] }, new HashSet<string>(StringComparer.Ordinal) { i.Id });
                }
            }

            if (current is { } last)
            {
                merged.Add(last);
            }
        }

        return merged
            .Select(m => m.Incident with
            {
                Updates = notes.Where(n => m.Ids.Contains(n.IncidentId)).OrderBy(n => n.At).Select(n => new IncidentUpdate(n.At, n.Text)).ToList(),
            })
            .OrderBy(i => i.End is null ? 0 : 1).ThenByDescending(i => i.End is null ? i.Start : i.End!.Value).ToList();
    }
}
