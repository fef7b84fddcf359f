using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Manypaths.History;

/// <summary>
/// The only writer of the store, off the request path: transitions and minute rows wait in a bounded queue and go
/// to SQLite once a second, one transaction per batch; prunes hourly. A full queue drops the oldest rows, and a failed
/// write (disk full, database locked) drops that batch: both are counted (manypaths_history_dropped) and logged at
/// most once a minute. History degrades; traffic never waits.
/// </summary>
internal sealed partial class HistoryWriter : IAsyncDisposable
{
    private const int Capacity = 20_000;
    private readonly Channel<object> _queue = Channel.CreateBounded<object>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly HistoryStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retention;
    private readonly Telemetry.ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _lastComplaint = long.MinValue;
    private DateTimeOffset _lastPrune = DateTimeOffset.MinValue;

    public HistoryWriter(HistoryStore store, TimeSpan retention, TimeProvider time, Telemetry.ManypathsMetrics metrics, ILogger logger)
    {
        _store = store;
        _retention = retention;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public HistoryStore Store => _store;

    /// <summary>The last write's error, for the page (null when the last batch was written).</summary>
    public string? LastError { get; private set; }

    public void Add(Transition t) => Enqueue(t);

    public void Add(MinuteRow row) => Enqueue(row);

    /// <summary>An incident as it is now (opened, closed): stored by id, so a restarted node shows its past ones.</summary>
    public void Add(Incident incident) => Enqueue(incident);

    public void Add(IncidentNote note) => Enqueue(note);

    private void Enqueue(object item)
    {
        if (_queue.Reader.Count >= Capacity)
        {
            _metrics.HistoryDropped.Add(1, new KeyValuePair<string, object?>("reason", "queue_full"));
        }

        _queue.Writer.TryWrite(item);
    }

    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _time, _stop.Token).ConfigureAwait(false);
                Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }

        Flush(); // what is queued at a clean stop is written
    }

    /// <summary>Writes everything queued now, in one transaction.</summary>
    public void Flush()
    {
        var transitions = new List<Transition>();
        var minutes = new List<MinuteRow>();
        var incidents = new List<Incident>();
        var notes = new List<IncidentNote>();
        while (_queue.Reader.TryRead(out var item))
        {
            switch (item)
            {
                case Transition t: transitions.Add(t); break;
                case MinuteRow m: minutes.Add(m); break;
                case Incident i: incidents.Add(i); break;
                case IncidentNote n: notes.Add(n); break;
            }
        }

        try
        {
            if (transitions.Count + minutes.Count + incidents.Count + notes.Count > 0)
            {
                _store.Write(transitions, minutes, incidents, notes);
            }

            var now = _time.GetUtcNow();
            if (now - _lastPrune > TimeSpan.FromHours(1))
            {
                _lastPrune = now;
                _store.Prune(now, _retention);
            }

            LastError = null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LastError = e.Message;
            _metrics.HistoryDropped.Add(transitions.Count + minutes.Count + incidents.Count + notes.Count, new KeyValuePair<string, object?>("reason", "write_failed"));
            var now = _time.GetTimestamp();
            if (_lastComplaint == long.MinValue || _time.GetElapsedTime(_lastComplaint, now) > TimeSpan.FromMinutes(1))
            {
                _lastComplaint = now;
                Log.WriteFailed(_logger, _store.Path, e.Message);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _store.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, EventName = "HistoryWriteFailed", Level = LogLevel.Warning, Message = "History not written to {Path}: {Error}. Traffic is not affected; history has a gap (counted in manypaths_history_dropped).")]
        public static partial void WriteFailed(ILogger logger, string path, string error);
    }
}
