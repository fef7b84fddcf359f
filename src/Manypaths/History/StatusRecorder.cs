using System.Collections.Concurrent;
using Manypaths.Alerts;
using Manypaths.Config;
using Manypaths.Status;
using Microsoft.Extensions.Logging;

namespace Manypaths.History;

/// <summary>
/// A node's memory and voice: every second it samples the node's status into signals; a change is a transition,
/// which goes to the history, the incident book and the alert pipeline; the service's state second and, each
/// minute, the data plane's tallies go to the history. Every 250 ms the alert pipeline releases what held long
/// enough, and this node sends it when it is the sender (the first name among itself and the peers it hears).
/// </summary>
internal sealed partial class StatusRecorder : IAsyncDisposable
{
    private readonly Node.NodeHost _host;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ServiceTally> _tallies = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Dns.NodeEndpointViews _views;
    private Dictionary<(string Kind, string Subject), string> _last = [];
    private readonly Dictionary<(string Kind, string Subject), DateTimeOffset> _since = [];
    private DateTimeOffset _minute;
    private ITimer? _sampler;
    private ITimer? _ticker;
    private ITimer? _exchangeTimer;

    /// <summary>This node's incidents and notes from before a restart, restored at the first sample.</summary>
    private (List<Incident> Incidents, List<IncidentNote> Notes)? _stored;
    private AlertPipeline _pipeline;
    private AlertOptions _alertOptions;
    private List<WebhookSender> _senders = [];

    public StatusRecorder(Node.NodeHost host, ManypathsConfig config)
    {
        _host = host;
        _logger = host.Loggers.CreateLogger("Manypaths.History");
        _views = new Dns.NodeEndpointViews(host.NodeName, () => host.Generation, () => host.Mesh);
        Incidents = new IncidentBook(host.NodeName);
        if (host.Signer is { } signer)
        {
            var peers = config.Nodes.Values.Where(n => n.Name != host.NodeName && n.Mesh is not null).ToDictionary(n => n.Name, n => n.Mesh!);
            Exchange = new IncidentExchange(host, Incidents, signer, peers, _logger);
        }

        _alertOptions = config.Alerts;
        _pipeline = new AlertPipeline(config.Alerts, ClusterName(config));
        _senders = Senders(config.Alerts);
        var path = System.IO.Path.Combine(host.HistoryDirectory ?? DataDir(config.Status), $"{ClusterName(config)}-{host.NodeName}.db");
        if (!config.Status.History)
        {
            HistoryError = "History is off on this node (status.history: false).";
            return;
        }

        HistoryStore? store = null;
        try
        {
            // Everything read before the writer starts: a file that opens but cannot be read leaves history off, whole.
            store = new HistoryStore(path);
            _stored = (store.Incidents(200), store.Notes(500));
            Writer = new HistoryWriter(store, config.Status.Retention, host.Time, host.Metrics, _logger);
            View = new HistoryView(store, host.Time);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            store?.Dispose();
            _stored = null;
            HistoryError = $"History is off on this node: {path} cannot be opened ({e.Message}).";
            Log.NoHistory(_logger, HistoryError);
        }
    }

    public IncidentBook Incidents { get; }

    /// <summary>Fetches peers' incidents (null for a node without peers).</summary>
    public IncidentExchange? Exchange { get; }

    /// <summary>The whole cluster's incidents as this node knows them, with operators' notes.</summary>
    public List<Incident> ClusterIncidents() => Exchange?.Merged() ?? IncidentMerge.Merge([Incidents.Share()]);

    public HistoryWriter? Writer { get; }

    /// <summary>Uptime and latency for the page (null without history).</summary>
    public HistoryView? View { get; }

    /// <summary>What each node heard says about an upstream (this node's direct view and each heard peer's).</summary>
    public IReadOnlyList<(string Node, bool Healthy)> Views(string service, string upstream) => _views.Views(service, upstream);

    /// <summary>What a peer last said of its own path to an upstream, however long ago (null: never heard).</summary>
    public bool? LastKnownView(string peer, string service, string upstream) =>
        _host.Mesh?.Views.Get(peer, service, upstream) is { } v && v.State != Health.HealthState.Unknown ? v.State is Health.HealthState.Up or Health.HealthState.Suspect : null;

    /// <summary>Why this node keeps no history, when it does not.</summary>
    public string? HistoryError { get; }

    public IReadOnlyList<WebhookSender> Webhooks => _senders;

    /// <summary>Who sent (or would send) the last alert group: this node, or the peer that is the sender.</summary>
    public string? LastSender { get; private set; }

    /// <summary>A signal's state in the last sample (null: not sampled yet), for tests and the page.</summary>
    public string? Sampled(string kind, string subject)
    {
        lock (_lock)
        {
            return _last.GetValueOrDefault((kind, subject));
        }
    }

    /// <summary>The minute the tallies are filling now.</summary>
    public DateTimeOffset CurrentMinute => _minute;

    /// <summary>Since when a signal has been in its state (at least: a node knows only since its first sample).</summary>
    public DateTimeOffset? Since(string kind, string subject)
    {
        lock (_lock)
        {
            return _since.TryGetValue((kind, subject), out var at) ? at : null;
        }
    }

    /// <summary>The current minute of a service, kept across config generations (null: no history, nothing to add per request).</summary>
    public ServiceTally? TallyOrNull(string service) => Writer is null ? null : Tally(service);

    /// <summary>The current minute of a service, kept across config generations.</summary>
    public ServiceTally Tally(string service) => _tallies.GetOrAdd(service, s => new ServiceTally(s));

    public void Start()
    {
        _minute = Minute(_host.Time.GetUtcNow());
        _sampler = _host.Time.CreateTimer(_ => Safely(Sample), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _ticker = _host.Time.CreateTimer(_ => Safely(Tick), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
        if (Exchange is { } exchange)
        {
            _exchangeTimer = _host.Time.CreateTimer(_ => _ = exchange.PollAsync(), null, TimeSpan.FromSeconds(1), IncidentExchange.Every);
        }
    }

    /// <summary>A reload: new hold/group apply to what is released next; a changed webhook list gets new senders.</summary>
    public void Apply(ManypathsConfig config)
    {
        lock (_lock)
        {
            if (config.Alerts == _alertOptions)
            {
                return;
            }

            _pipeline = _pipeline.With(config.Alerts);
            // A webhook that stays keeps its sender, and what it still has to deliver; only removed ones are stopped.
            var kept = _senders.ToDictionary(s => s.Identity, StringComparer.Ordinal);
            var next = new List<WebhookSender>();
            foreach (var hook in config.Alerts.Webhooks)
            {
                next.Add(kept.Remove(hook.Identity, out var same) ? same : NewSender(hook));
            }

            _senders = next;
            _ = Task.WhenAll(kept.Values.Select(s => s.DisposeAsync().AsTask()));

            _alertOptions = config.Alerts;
        }
    }

    private List<WebhookSender> Senders(AlertOptions options) => options.Webhooks.Select(NewSender).ToList();

    private WebhookSender NewSender(WebhookOptions hook) => new(hook, _host.Time, _host.Metrics, _host.Loggers.CreateLogger("Manypaths.Alerts"));

    private int _sampling;

    /// <summary>Kinds alerted from the cluster's merged incidents, not this node's own view: any node's outage is alerted once.</summary>
    private static readonly HashSet<string> ClusterKinds = new(["service", "failover", "region", "relayed"], StringComparer.Ordinal);

    private Dictionary<(string Kind, string Subject), string>? _clusterSignals;

    /// <summary>
    /// The service kinds as the cluster sees them: down while any fresh node has a "down" incident open, and so on
    /// (<see cref="IncidentExchange.MergedFresh"/>). Each node tracks it; the sender alerts its changes.
    /// </summary>
    private Dictionary<(string Kind, string Subject), string> ClusterSignals(Node.NodeGeneration g)
    {
        var open = (Exchange?.MergedFresh() ?? IncidentMerge.Merge([Incidents.Share()])).Where(i => i.End is null).ToList();
        var signals = new Dictionary<(string Kind, string Subject), string>();
        foreach (var service in g.Services.Keys)
        {
            string State(string kind, string normal) => open.FirstOrDefault(i => i.Kind == kind && i.Service == service) is { } i ? i.State ?? kind : normal;
            signals[("service", service)] = open.Any(i => i.Kind == "down" && i.Service == service) ? "down" : "up";
            signals[("failover", service)] = State("failover", "primary");
            signals[("region", service)] = State("region", "local");
            signals[("relayed", service)] = open.Any(i => i.Kind == "relayed" && i.Service == service) ? "relayed" : "direct";
        }

        return signals;
    }

    /// <summary>One sample; one that would overlap a slow previous one (a starved machine) is skipped.</summary>
    private void Sample()
    {
        if (Interlocked.Exchange(ref _sampling, 1) == 1)
        {
            return;
        }

        try
        {
            SampleOnce();
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }

    private void SampleOnce()
    {
        if (_host.Generation is not { } g)
        {
            return;
        }

        var report = StatusReportBuilder.Build(_host);
        var now = report.GeneratedAt;
        var quorum = g.Config.Cluster.Quorum;
        var signals = Signals.Read(report, (service, upstream) =>
        {
            var views = _views.Views(service, upstream);
            return views.Count == 0 ? null : Dns.QuorumHealth.Healthy(views, quorum);
        });
        foreach (var s in report.Services)
        {
            Tally(s.Name).AddSecond(s.State);
        }

        List<Transition> transitions;
        lock (_lock)
        {
            transitions = Signals.Diff(_last, signals, now);
            var merged = new Dictionary<(string, string), string>(_last);
            foreach (var (key, state) in signals)
            {
                merged[key] = state;
            }

            _last = merged;
            foreach (var key in signals.Keys.Where(k => !_since.ContainsKey(k)))
            {
                _since[key] = now; // first seen: in this state at least since now
            }

            foreach (var t in transitions)
            {
                _since[(t.Kind, t.Subject)] = t.At;
            }
            foreach (var t in transitions.Where(t => !ClusterKinds.Contains(t.Kind)))
            {
                _pipeline.Add(t); // a service's own kinds are alerted from the cluster's incidents (Tick)
            }
        }

        if (_stored is { } stored)
        {
            _stored = null;
            foreach (var closed in Incidents.Restore(stored.Incidents, stored.Notes, i => StillOpen(i, signals), now))
            {
                Writer?.Add(closed);
            }
        }

        foreach (var t in transitions)
        {
            Writer?.Add(t);
            foreach (var changed in Incidents.Apply(t))
            {
                Writer?.Add(changed);
            }

            Log.Transition(_logger, t.Kind, t.Subject, t.From, t.To);
        }

        var minute = Minute(now);
        if (minute != _minute)
        {
            foreach (var tally in _tallies.Values)
            {
                foreach (var row in tally.Take(_minute))
                {
                    Writer?.Add(row);
                }
            }

            _minute = minute;
        }
    }

    /// <summary>Whether a stored open incident's condition still holds in this sample.</summary>
    private static bool StillOpen(Incident i, Dictionary<(string Kind, string Subject), string> signals) => i.Kind switch
    {
        "down" => signals.GetValueOrDefault(("service", i.Service)) == "down",
        "failover" => signals.GetValueOrDefault(("failover", i.Service)) is { } f && f != "primary",
        "region" => signals.GetValueOrDefault(("region", i.Service)) is { } r && r != "local",
        "relayed" => signals.GetValueOrDefault(("relayed", i.Service)) == "relayed",
        _ => false,
    };

    /// <summary>An operator's note: kept, stored and shared with peers.</summary>
    public void AddNote(string id, string text, DateTimeOffset at)
    {
        Incidents.AddNote(id, text, at);
        Writer?.Add(new IncidentNote(id, at, text));
    }

    private void Tick()
    {
        List<AlertEvent>? batch;
        var sender = Sender();
        var now = _host.Time.GetUtcNow();
        var cluster = _host.Generation is { } generation ? ClusterSignals(generation) : null;
        lock (_lock)
        {
            if (cluster is not null)
            {
                if (_clusterSignals is not null)
                {
                    foreach (var t in Signals.Diff(_clusterSignals, cluster, now))
                    {
                        _pipeline.Add(t);
                    }
                }

                _clusterSignals = cluster;
            }

            batch = _pipeline.Tick(now);
            if (batch is not { Count: > 0 } || _host.Generation is not { } g)
            {
                return;
            }

            LastSender = sender;
            if (sender != _host.NodeName)
            {
                Log.NotTheSender(_logger, batch.Count, sender);
                return;
            }

            // Under the lock: a reload cannot stop a sender between choosing it and handing it the batch (Send only queues).
            foreach (var s in _senders)
            {
                s.Send(ClusterName(g.Config), _host.NodeName, batch);
            }
        }

        Log.Alerted(_logger, batch.Count, string.Join("; ", batch.Select(e => e.Text)));
    }

    /// <summary>The first name, in ordinal order, among this node and the peers whose link is up.</summary>
    private string Sender()
    {
        var name = _host.NodeName;
        if (_host.Mesh is { } mesh)
        {
            foreach (var peer in mesh.Peers)
            {
                if (mesh.Link(peer).State == Mesh.LinkState.Up && !mesh.Link(peer).Draining && string.CompareOrdinal(peer, name) < 0)
                {
                    name = peer;
                }
            }
        }

        return name;
    }

    private void Safely(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Failed(_logger, e.Message); // a sample lost, never the node
        }
    }

    private static DateTimeOffset Minute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);

    private static string ClusterName(ManypathsConfig config) => string.IsNullOrEmpty(config.Cluster.Name) ? "manypaths" : config.Cluster.Name;

    /// <summary>status.data_dir, else $STATE_DIRECTORY (systemd's StateDirectory=, the first of a list), else ~/.local/state/manypaths.</summary>
    internal static string DataDir(StatusOptions status) =>
        status.DataDir
        ?? (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } state ? state.Split(':')[0]
        : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "manypaths"));

    public async ValueTask DisposeAsync()
    {
        if (_sampler is not null)
        {
            await _sampler.DisposeAsync();
        }

        if (_ticker is not null)
        {
            await _ticker.DisposeAsync();
        }

        if (_exchangeTimer is not null)
        {
            await _exchangeTimer.DisposeAsync();
        }

        if (Exchange is not null)
        {
            await Exchange.DisposeAsync();
        }

        foreach (var s in _senders)
        {
            await s.DisposeAsync();
        }

        if (Writer is not null)
        {
            await Writer.DisposeAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7002, EventName = "HistoryOff", Level = LogLevel.Warning, Message = "{Message}")]
        public static partial void NoHistory(ILogger logger, string message);

        [LoggerMessage(EventId = 7003, EventName = "Transition", Level = LogLevel.Information, Message = "{Kind} {Subject}: {From} -> {To}")]
        public static partial void Transition(ILogger logger, string kind, string subject, string from, string to);

        [LoggerMessage(EventId = 7004, EventName = "SampleFailed", Level = LogLevel.Warning, Message = "Status sample failed: {Error}")]
        public static partial void Failed(ILogger logger, string error);

        [LoggerMessage(EventId = 7103, EventName = "Alerted", Level = LogLevel.Information, Message = "Alert sent ({Count} event(s)): {Text}")]
        public static partial void Alerted(ILogger logger, int count, string text);

        [LoggerMessage(EventId = 7104, EventName = "AlertLeftToPeer", Level = LogLevel.Debug, Message = "{Count} alert event(s) left to {Sender}, the sender")]
        public static partial void NotTheSender(ILogger logger, int count, string sender);
    }
}
