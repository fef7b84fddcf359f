namespace Manypaths.Status;

/// <summary>The JSON of GET /api/status (snake_case on the wire).</summary>
internal sealed record StatusReport(
    string Cluster,
    string Node,
    string? Region,
    DateTimeOffset GeneratedAt,
    DateTimeOffset StartedAt,
    ConfigStatus Config,
    IReadOnlyList<ServiceStatus> Services,
    IReadOnlyList<PeerStatus> Peers,
    IReadOnlyList<LinkMatrixEntry> LinkMatrix,
    bool Draining = false,
    HistoryStatus? History = null,
    AlertStatus? Alerts = null);

/// <summary>Whether this node keeps history, and the last write's error (traffic is never affected).</summary>
internal sealed record HistoryStatus(bool Enabled, string? Error);

/// <summary>The webhooks by label (never their URLs) and who sends this cluster's alerts as this node sees it.</summary>
internal sealed record AlertStatus(string? Sender, IReadOnlyList<WebhookStatus> Webhooks);

internal sealed record WebhookStatus(string Label, long Delivered, long FailedAttempts, long GaveUp, int Waiting, DateTimeOffset? LastFailureAt, string? LastFailure);

/// <summary>GET /api/history: one service's rows (minutes for spans up to 48 h, else hours) and the transitions in the span.</summary>
internal sealed record HistoryReport(string Service, DateTimeOffset From, DateTimeOffset To, string Resolution, IReadOnlyList<History.MinuteRow> Rows, IReadOnlyList<History.Transition> Transitions);

/// <summary>GET /api/incidents: open ones first, then closed ones, newest first.</summary>
internal sealed record IncidentsReport(string Node, IReadOnlyList<History.Incident> Incidents);

/// <summary>This node's link to one peer, measured by UDP heartbeats.</summary>
internal sealed record PeerStatus(string Name, string State, double? RttMs, double Loss, DateTimeOffset? LastHeard, bool Draining = false);

/// <summary>
/// One cell of the peer link matrix: node From's link to node To. This node's own cells are measured here
/// (source "measured"); the others are what From last reported in its heartbeats ("reported", as of ReportedAt),
/// "stale" (state unknown) when that report is older than mesh.dead_after, "not_reported" when From's row has no
/// such peer (its config does not list To yet), or "unheard" when From's heartbeats never reached this node.
/// </summary>
internal sealed record LinkMatrixEntry(string From, string To, string State, double? RttMs, double? Loss, string Source, DateTimeOffset? ReportedAt);

internal sealed record ConfigStatus(int Generation, DateTimeOffset LoadedAt, string? Path, string? LastReloadError, DateTimeOffset? LastReloadAt, string? PendingRestart);

/// <param name="SplitBrain">mode: tcp with a primary check: set while two upstreams say primary and writes are refused.</param>
/// <param name="Connections">mode: tcp: client connections through this service on this node now.</param>
internal sealed record ServiceStatus(
    string Name,
    string Mode,
    string? Listen,
    string State,
    MaintenanceStatus? Maintenance,
    IReadOnlyList<UpstreamStatus> Upstreams,
    IReadOnlyList<PathStatus> Paths,
    string? SplitBrain = null,
    int? Connections = null);

/// <summary>One way from this node to one upstream: direct (Via null) or through a peer, with its state and why.</summary>
internal sealed record PathStatus(string Upstream, string? Via, string State, double? LatencyMs, string Why);

internal sealed record MaintenanceStatus(string? Message, DateTimeOffset? Until, DateTimeOffset Since);

/// <param name="Role">Role-checked tcp services: what the upstream last said it is (primary, replica, unknown).</param>
/// <param name="LagBytes">A replica's bytes behind its primary, when measured.</param>
/// <param name="Connections">mode: tcp: connections to this upstream through this node now.</param>
internal sealed record UpstreamStatus(
    string Name,
    string? Url,
    string? Region,
    int Tier,
    int Weight,
    string State,
    string Reason,
    double? LatencyMs,
    double SuccessRate,
    DateTimeOffset? LastTransition,
    DateTimeOffset? EjectedUntil,
    bool Drained,
    string? Role = null,
    long? LagBytes = null,
    int? Connections = null);

internal sealed record AdminError(string Error);

internal sealed record AdminOk(string Result);

/// <summary>The answer to an admin write: what changed, and which nodes have applied it so far.</summary>
internal sealed record AdminWriteResult(
    string Result,
    string Service,
    string? Upstream,
    string? Message,
    DateTimeOffset? Until,
    string Node,
    IReadOnlyList<string> AppliedOn,
    IReadOnlyList<string> Pending,
    IReadOnlyList<string> Unreachable,
    IReadOnlyList<string> Superseded);

internal sealed record MaintenanceRequest(string? Message, string? Until);

internal sealed record IncidentNoteRequest(string? Text);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StatusReport))]
[System.Text.Json.Serialization.JsonSerializable(typeof(AdminError))]
[System.Text.Json.Serialization.JsonSerializable(typeof(HistoryReport))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IncidentsReport))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dns.DnsExplanation))]
[System.Text.Json.Serialization.JsonSerializable(typeof(AdminOk))]
[System.Text.Json.Serialization.JsonSerializable(typeof(AdminWriteResult))]
[System.Text.Json.Serialization.JsonSerializable(typeof(MaintenanceRequest))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IncidentNoteRequest))]
internal sealed partial class StatusJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
