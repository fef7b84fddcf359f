using System.Net;
using Manypaths.Config;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging;

namespace Manypaths.Health;

/// <summary>
/// Probes every upstream of one service on its own jittered schedule, faster while a check is changing state,
/// whatever the kind of check (<see cref="IProbe"/>). A probe can never take the loop down: every exception becomes
/// a failed result, and a probe past its timeout one that "timed out".
/// </summary>
internal sealed partial class ActiveProber : IAsyncDisposable
{
    private readonly string _service;
    private readonly HealthCheckOptions _options;
    private readonly TimeProvider _time;
    private readonly ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly IAsyncDisposable? _owned;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _nudges = new(StringComparer.Ordinal);
    private readonly TimeSpan _tick;

    /// <param name="owned">Disposed with the prober (the probes' shared client, for HTTP; the role checks' connections).</param>
    public ActiveProber(string service, HealthCheckOptions options, TimeProvider time, ManypathsMetrics metrics, ILogger logger, IAsyncDisposable? owned = null)
    {
        _service = service;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _owned = owned;
        _tick = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(100).Ticks, Math.Max(TimeSpan.FromMilliseconds(1).Ticks, options.FastInterval.Ticks / 10)));
    }

    public void Start(IEnumerable<(string Name, IProbe Probe, UpstreamHealth Health)> upstreams)
    {
        foreach (var (name, probe, health) in upstreams)
        {
            _loops.Add(Task.Run(() => LoopAsync(name, probe, health, _stop.Token)));
        }
    }

    private async Task LoopAsync(string name, IProbe probe, UpstreamHealth health, CancellationToken stop)
    {
        // Spread the first probes so a node start does not fire them all at once.
        var first = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Min(50, _options.Interval.TotalMilliseconds / 4));
        try
        {
            await Task.Delay(first, _time, stop);
            while (!stop.IsCancellationRequested)
            {
                // Published before the check, so a nudge that arrives while it runs asks for the next one at once.
                var nudge = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _nudges[name] = nudge;
                await ProbeOnceAsync(name, probe, health, stop);
                var interval = health.IsChangingState || health.State == HealthState.Unknown ? _options.FastInterval : _options.Interval;
                var jitter = 0.9 + (Random.Shared.NextDouble() * 0.2);
                await Task.WhenAny(Task.Delay(OnTick(interval * jitter), _time, stop), nudge.Task);
                stop.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Checks <paramref name="upstream"/> again now rather than at its next interval (a role board that must
    /// hear it again to settle a tie).</summary>
    public void Nudge(string upstream)
    {
        if (_nudges.TryGetValue(upstream, out var nudge))
        {
            nudge.TrySetResult();
        }
    }

    /// <summary>
    /// Rounds a wait to the nearest tick of a shared clock (a tenth of the fast interval, at most 100 ms), so the
    /// probes of every upstream (and every service) wake up together: one thread wake-up per tick serves a batch
    /// instead of one per probe. Waking the runtime's threads, not the probe itself, was most of a probe's CPU.
    /// The grid is shifted by a random phase per process, so nodes whose clocks agree (NTP) do not all probe the
    /// same upstreams at the same instant.
    /// </summary>
    private TimeSpan OnTick(TimeSpan wait)
    {
        var tick = _tick.Ticks;
        var due = _time.GetUtcNow().UtcTicks + wait.Ticks - Phase;
        var rounded = (due + (tick / 2)) / tick * tick;
        return wait + TimeSpan.FromTicks(rounded - due);
    }

    private static readonly long Phase = Random.Shared.NextInt64(TimeSpan.FromMilliseconds(100).Ticks);

    internal async Task ProbeOnceAsync(string name, IProbe probe, UpstreamHealth health, CancellationToken stop)
    {
        var started = _time.GetTimestamp();
        bool ok;
        string detail;
        var definitive = false;
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            (ok, detail, definitive) = await probe.ProbeAsync(linked.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            ok = false;
            detail = timeout.IsCancellationRequested ? $"timeout after {ValueParsers.FormatDuration(_options.Timeout)}" : Proxy.FailureText.Of(e);
        }

        var elapsed = _time.GetElapsedTime(started);
        _metrics.Probes.Add(1,
            new KeyValuePair<string, object?>("service", _service),
            new KeyValuePair<string, object?>("upstream", name),
            new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));
        _metrics.ProbeLatency.Record(elapsed.TotalSeconds,
            new KeyValuePair<string, object?>("service", _service),
            new KeyValuePair<string, object?>("upstream", name));
        health.ReportProbe(ok, elapsed, detail, definitive);
        if (!ok && _logger.IsEnabled(LogLevel.Debug))
        {
            Log.ProbeFailed(_logger, _service, name, detail);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops);
        }
        catch (OperationCanceledException)
        {
        }

        if (_owned is not null)
        {
            await _owned.DisposeAsync();
        }

        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, EventName = "ProbeFailed", Level = LogLevel.Debug, Message = "Service {Service}: probe of {Upstream} failed: {Detail}")]
        public static partial void ProbeFailed(ILogger logger, string service, string upstream, string detail);
    }
}
