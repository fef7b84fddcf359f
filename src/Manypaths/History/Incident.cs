namespace Manypaths.History;

/// <summary>
/// Something users felt, opened and closed by transitions: a service down, serving from a later tier, or served
/// only through peers. Id is stable across nodes for the same kind, service and start second.
/// </summary>
/// <param name="State">What the service was in when it opened: down, the tier ("tier 1"), the regions, relayed.</param>
internal sealed record Incident(string Id, string Kind, string Service, string Title, DateTimeOffset Start, DateTimeOffset? End, IReadOnlyList<string> Nodes, IReadOnlyList<IncidentUpdate> Updates, string? State = null)
{
    public double? DurationSeconds => End is { } end ? Math.Round((end - Start).TotalSeconds, 1) : null;
}

/// <summary>An operator's note on an incident.</summary>
internal sealed record IncidentUpdate(DateTimeOffset At, string Text);

/// <summary>A note as it travels: the incident id it was written for, when, and what.</summary>
internal sealed record IncidentNote(string IncidentId, DateTimeOffset At, string Text);

/// <summary>
/// One node's own incidents and notes (GET /_mesh/incidents), and its last failed config reload, if any: every node's
/// page shows which node kept its last good config.
/// </summary>
internal sealed record IncidentShare(IReadOnlyList<Incident> Incidents, IReadOnlyList<IncidentNote> Notes, string? ReloadError = null, DateTimeOffset? ReloadAt = null);
