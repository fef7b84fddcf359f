using System.Diagnostics.Metrics;

namespace Manypaths.Telemetry;

/// <summary>Every instrument the node exposes on /metrics. Names are already in Prometheus form.</summary>
internal sealed class ManypathsMetrics : IDisposable
{
    public const string MeterName = "Manypaths";

    private readonly Meter _meter;

    public ManypathsMetrics()
    {
        _meter = new Meter(MeterName);
        Requests = _meter.CreateCounter<long>("manypaths_requests", description: "Client requests answered, by service and status class.");
        Attempts = _meter.CreateCounter<long>("manypaths_upstream_attempts", description: "Attempts sent to upstreams, by result.");
        Retries = _meter.CreateCounter<long>("manypaths_retries", description: "Retries on another path, by the reason of the failed attempt.");
        RetriesDenied = _meter.CreateCounter<long>("manypaths_retries_denied", description: "Retries refused by the retry budget.");
        Hedges = _meter.CreateCounter<long>("manypaths_hedges", description: "Hedged attempts, by result (started, won, denied by the hedge budget).");
        Races = _meter.CreateCounter<long>("manypaths_connect_races", description: "Attempts started beside a connect slower than its endpoint's usual.");
        Rescues = _meter.CreateCounter<long>("manypaths_rescues", description: "Waiting attempts started again elsewhere because their path was judged down.");
        SilenceNotJudged = _meter.CreateCounter<long>("manypaths_silence_not_judged", description: "Paths that looked silent under waiting requests but were not ejected, by reason (last_usable_path, node_stalled).");
        PathsQuiet = _meter.CreateCounter<long>("manypaths_paths_quiet", description: "Times a path went quiet under waiting requests (nothing came back for a short while), so new requests went another way of the same rank until an answer came or it was judged.");
        StandbyWarmups = _meter.CreateCounter<long>("manypaths_standby_warmups", description: "Health-path GETs sent down standby paths to keep their connection pools warm, by path and result.");
        SorryPages = _meter.CreateCounter<long>("manypaths_sorry_responses", description: "Sorry page or redirect answers, by reason.");
        StateChanges = _meter.CreateCounter<long>("manypaths_upstream_state_changes", description: "Upstream health state changes, by new state.");
        Probes = _meter.CreateCounter<long>("manypaths_probes", description: "Active health probes, by result.");
        ProbeLatency = _meter.CreateHistogram<double>("manypaths_probe_duration_seconds", unit: "s", description: "Active health probe latency.");
        ConfigReloads = _meter.CreateCounter<long>("manypaths_config_reloads", description: "Config reload attempts, by result.");
        MeshDropped = _meter.CreateCounter<long>("manypaths_mesh_heartbeats_dropped", description: "Peer heartbeats dropped, by reason (malformed, unauthenticated, unknown_peer, stale: replayed or reordered, out_of_window: clocks apart or replayed, other_format: a node of another version).");
        RelayRefused = _meter.CreateCounter<long>("manypaths_relay_refused", description: "Relay requests refused, by reason.");
        Relayed = _meter.CreateCounter<long>("manypaths_relayed_requests", description: "Requests this node sent through a peer, by peer and upstream.");
        HeartbeatsSent = _meter.CreateCounter<long>("manypaths_mesh_heartbeats_sent", description: "Heartbeat datagrams sent to peers, by kind (ping, pong, state).");
        TcpAccepted = _meter.CreateCounter<long>("manypaths_tcp_connections_accepted", description: "Client connections to tcp services, by result (connected, no_upstream, over_limit, maintenance).");
        TcpClosed = _meter.CreateCounter<long>("manypaths_tcp_connections_closed", description: "Tcp connections closed by this node before either side ended them, by reason (demoted, idle).");
        DnsQueries = _meter.CreateCounter<long>("manypaths_dns_queries", description: "DNS queries answered, by return code and transport.");
        DnsRateLimited = _meter.CreateCounter<long>("manypaths_dns_rate_limited", description: "UDP DNS responses held back by response rate limiting, by action (slipped: an empty truncated answer instead; dropped).");
        HistoryDropped = _meter.CreateCounter<long>("manypaths_history_dropped", description: "History rows not stored (the queue was full, or the write failed), by reason.");
        AlertsSent = _meter.CreateCounter<long>("manypaths_alerts_sent", description: "Alert deliveries to webhooks, by webhook label and result (delivered, failed, gave_up).");
        DnsDropped = _meter.CreateCounter<long>("manypaths_dns_dropped", description: "DNS packets dropped unanswered (malformed, or the transport failed), by reason.");
        HeartbeatBytesSent = _meter.CreateCounter<long>("manypaths_mesh_heartbeat_bytes_sent", unit: "By", description: "Bytes of heartbeat datagrams sent to peers (UDP payload).");
    }

    public Counter<long> Requests { get; }
    public Counter<long> Attempts { get; }
    public Counter<long> Retries { get; }
    public Counter<long> RetriesDenied { get; }
    public Counter<long> Hedges { get; }
    public Counter<long> Races { get; }
    public Counter<long> Rescues { get; }
    public Counter<long> SilenceNotJudged { get; }
    public Counter<long> PathsQuiet { get; }
    public Counter<long> StandbyWarmups { get; }
    public Counter<long> SorryPages { get; }
    public Counter<long> StateChanges { get; }
    public Counter<long> Probes { get; }
    public Histogram<double> ProbeLatency { get; }
    public Counter<long> ConfigReloads { get; }
    public Counter<long> MeshDropped { get; }
    public Counter<long> RelayRefused { get; }
    public Counter<long> Relayed { get; }
    public Counter<long> HeartbeatsSent { get; }
    public Counter<long> HeartbeatBytesSent { get; }
    public Counter<long> TcpAccepted { get; }
    public Counter<long> DnsQueries { get; }
    public Counter<long> DnsDropped { get; }
    public Counter<long> HistoryDropped { get; }
    public Counter<long> AlertsSent { get; }
    public Counter<long> DnsRateLimited { get; }
    public Counter<long> TcpClosed { get; }

    public Meter Meter => _meter;

    public static string StatusClass(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };

    public void Dispose() => _meter.Dispose();
}
