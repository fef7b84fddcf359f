namespace Manypaths.History;

/// <summary>
/// A signal whose state changed between two samples of this node's status (docs/design/status-and-alerts.md):
/// kind service, failover, relayed, upstream, link, node or maintenance; the subject names what changed
/// ("web", "web/a", "blr>maa").
/// </summary>
internal sealed record Transition(DateTimeOffset At, string Kind, string Subject, string From, string To);
