using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Manypaths.Config;
using Microsoft.Extensions.Logging;

namespace Manypaths.Alerts;

/// <summary>
/// Delivers alerts to one webhook, in order: a POST with a 5 s timeout, retried with back-off (1 s, doubling, at
/// most 60 s apart) for up to an hour, then given up. What went wrong shows on the page under the webhook's label;
/// the URL (often a secret) never appears in status, metrics or logs.
/// </summary>
internal sealed partial class WebhookSender : IAsyncDisposable
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromHours(1);
    private readonly Channel<JsonObject> _queue = Channel.CreateBounded<JsonObject>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly WebhookOptions _hook;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Telemetry.ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public WebhookSender(WebhookOptions hook, TimeProvider time, Telemetry.ManypathsMetrics metrics, ILogger logger)
    {
        _hook = hook;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = TimeSpan.FromSeconds(5),
        };
        _loop = Task.Run(RunAsync);
    }

    public string Label => _hook.Label;

    public string Identity => _hook.Identity;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long FailedAttempts => Interlocked.Read(ref _failed);

    public long GaveUp => Interlocked.Read(ref _gaveUp);

    public int Waiting => _queue.Reader.Count + (_sending ? 1 : 0);

    /// <summary>The last failed attempt: when, and what (a status code or an error kind, never the URL).</summary>
    public (DateTimeOffset At, string Error)? LastFailure { get; private set; }

    private long _delivered;
    private long _failed;
    private long _gaveUp;
    private volatile bool _sending;

    public void Send(string cluster, string node, IReadOnlyList<AlertEvent> events)
    {
        var text = string.Join("\n", events.Select(e => $"[{cluster}] {e.Text}"));
        var payload = _hook.Format == WebhookFormat.Slack
            ? new JsonObject { ["text"] = text }
            : new JsonObject
            {
                ["cluster"] = cluster,
                ["node"] = node,
                ["events"] = new JsonArray(events.Select(e => (JsonNode)new JsonObject
                {
                    ["kind"] = e.Kind,
                    ["subject"] = e.Subject,
                    ["from"] = e.From,
                    ["to"] = e.To,
                    ["at"] = e.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                    ["key"] = e.Key,
                }).ToArray()),
                ["text"] = text,
            };
        _queue.Writer.TryWrite(payload);
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var payload in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                _sending = true;
                await DeliverAsync(payload);
                _sending = false;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task DeliverAsync(JsonObject payload)
    {
        var started = _time.GetTimestamp();
        var wait = TimeSpan.FromSeconds(1);
        while (!_stop.IsCancellationRequested)
        {
            string error;
            try
            {
                using var content = JsonContent.Create(payload, options: JsonSerializerOptions.Default);
                using var response = await _http.PostAsync(_hook.Url, content, _stop.Token);
                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref _delivered);
                    _metrics.AlertsSent.Add(1, new("webhook", _hook.Label), new("result", "delivered"));
                    return;
                }

                error = $"HTTP {(int)response.StatusCode}";
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Never e.Message: it can carry the URL.
                error = e is HttpRequestException { HttpRequestError: var kind } ? $"{kind}" : "timed out";
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error = e.GetType().Name; // anything else: this attempt failed, the loop goes on
            }

            Interlocked.Increment(ref _failed);
            LastFailure = (_time.GetUtcNow(), error);
            _metrics.AlertsSent.Add(1, new("webhook", _hook.Label), new("result", "failed"));
            if (_time.GetElapsedTime(started) > GiveUpAfter)
            {
                Interlocked.Increment(ref _gaveUp);
                _metrics.AlertsSent.Add(1, new("webhook", _hook.Label), new("result", "gave_up"));
                Log.GaveUp(_logger, _hook.Label, error);
                return;
            }

            Log.Failed(_logger, _hook.Label, error, wait.TotalSeconds);
            try
            {
                await Task.Delay(wait, _time, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(60).Ticks));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _http.Dispose();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7101, EventName = "AlertDeliveryFailed", Level = LogLevel.Warning, Message = "Alert to {Webhook} not delivered ({Error}); trying again in {Seconds} s")]
        public static partial void Failed(ILogger logger, string webhook, string error, double seconds);

        [LoggerMessage(EventId = 7102, EventName = "AlertGivenUp", Level = LogLevel.Error, Message = "Alert to {Webhook} given up after an hour of failures ({Error})")]
        public static partial void GaveUp(ILogger logger, string webhook, string error);
    }
}
