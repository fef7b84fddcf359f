using Manypaths.Config;
using Manypaths.Routing;
using Manypaths.Service;
using Microsoft.Extensions.Logging;

namespace Manypaths.Proxy;

/// <summary>
/// Keeps the connection pools of a service's standby paths warm (docs/design/service-core.md, "Warm standby"). A
/// failover moves every request at once onto a path that carried none: through a peer (whose own pool to the
/// upstream is empty when its site has no traffic of its own) or to a backup. Each of those requests would open a
/// connection first: one round trip more (two through a peer), which at 250 ms round trips put 400 requests over the
/// p99 target after a blackhole. So once a second it asks <see cref="StandbyPolicy"/> whether to top up, and if so
/// sends that many GETs of the health path at once down each standby path (<see cref="PathChooser.Standby"/>): on a
/// relayed path they are signed like any relayed request, so the peer's pool to the upstream is warmed too. The
/// answers are read and dropped; they touch no health, latency or request figures. Only for HTTP health checks
/// ('health.check: http'), and off with 'warm_standby: false'.
/// </summary>
internal sealed partial class StandbyWarmer : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan WarmTimeout = TimeSpan.FromSeconds(10);
    private readonly ServiceRuntime _service;
    private readonly StandbyPolicy _policy;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly CancellationTokenSource _stop = new();
    private int _busy;
    private int _rising;
    /// <summary>Upstreams whose direct path was warmed while it rose from Down (once per rise).</summary>
    private readonly HashSet<int> _warmedRising = [];

    public StandbyWarmer(ServiceRuntime service, ILogger logger)
    {
        _service = service;
        _logger = logger;
        _policy = new StandbyPolicy(service.Time);
        _timer = service.Time.CreateTimer(static s => ((StandbyWarmer)s!).OnTick(), this, Tick, Tick);
    }

    /// <summary>Whether a service warms standby paths at all: an HTTP health path to ask, and not turned off.</summary>
    public static bool Applies(ServiceOptions options) => options.WarmStandby && options.Health.Check == HealthCheckKind.Http;

    private void OnTick()
    {
        if (!Monitor.TryEnter(_warmedRising))
        {
            return; // the previous tick is still deciding (a stalled thread pool): skip this one
        }

        try
        {
            WarmRising();
            var count = _policy.Due(_service.TakeOwnPeak());
            if (count > 0 && !_stop.IsCancellationRequested && Interlocked.Exchange(ref _busy, 1) == 0)
            {
                _ = WarmAsync(count);
            }
        }
        finally
        {
            Monitor.Exit(_warmedRising);
        }
    }

    /// <summary>
    /// A direct path coming back (Down, and its probes started to succeed) gets its pool warmed before it is Up
    /// again: its connections were closed in the outage, and every request moving back to it would otherwise open
    /// one first (measured at 250 ms round trips: 60 requests at 500 ms after a blackhole ended).
    /// </summary>
    private void WarmRising()
    {
        foreach (var upstream in _service.Upstreams)
        {
            var rising = upstream.Health.State == Health.HealthState.Down && upstream.Health.IsChangingState;
            if (!rising)
            {
                _warmedRising.Remove(upstream.Index);
                continue;
            }

            if (_policy.Current > 0 && !_stop.IsCancellationRequested && _warmedRising.Add(upstream.Index) && Interlocked.Exchange(ref _rising, 1) == 0)
            {
                _ = WarmRisingAsync(new PathChoice(new PathKey(upstream.Index, null), upstream.Options.Tier, PickReason.Healthy), _policy.Current);
            }
        }
    }

    private async Task WarmRisingAsync(PathChoice path, int count)
    {
        try
        {
            await WarmPathAsync(path, count);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.WarmFailed(_logger, _service.Name, e.Message);
        }
        finally
        {
            Volatile.Write(ref _rising, 0);
        }
    }

    private async Task WarmAsync(int count)
    {
        try
        {
            var hops = _service.Relay is { } relay ? relay.Options.HopLimit : 0;
            foreach (var path in _service.Core.Chooser.Standby(hops))
            {
                if (path.Peer is not null && _service.Relay is null)
                {
                    continue;
                }

                await WarmPathAsync(path, count);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.WarmFailed(_logger, _service.Name, e.Message); // a warm-up is a favour: never a reason to stop the timer
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Sends <paramref name="count"/> health-path GETs down one path at once, so its pool holds that many connections.</summary>
    private async Task WarmPathAsync(PathChoice path, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(WarmTimeout);
        var sends = new Task<bool>[count];
        for (var i = 0; i < count; i++)
        {
            sends[i] = SendAsync(path, timeout.Token);
        }

        var ok = (await Task.WhenAll(sends)).Count(x => x);
        _service.Metrics.StandbyWarmups.Add(ok, new KeyValuePair<string, object?>("service", _service.Name),
            new KeyValuePair<string, object?>("path", path.Peer ?? "direct"), new KeyValuePair<string, object?>("result", "ok"));
        if (ok < count)
        {
            _service.Metrics.StandbyWarmups.Add(count - ok, new KeyValuePair<string, object?>("service", _service.Name),
                new KeyValuePair<string, object?>("path", path.Peer ?? "direct"), new KeyValuePair<string, object?>("result", "failed"));
        }

        Log.Warmed(_logger, _service.Name, _service.Upstreams[path.Upstream].Name, path.Peer ?? "direct", ok, count);
    }

    private async Task<bool> SendAsync(PathChoice path, CancellationToken cancellationToken)
    {
        var upstream = _service.Upstreams[path.Upstream];
        var health = _service.Options.Health;
        var target = path.PeerMesh is { } peer
            ? new Uri($"{peer.GetLeftPart(UriPartial.Authority)}{Mesh.RelayHeaders.PathPrefix}{_service.Name}/{upstream.Name}{health.Path}")
            : new Uri(upstream.Prefix + health.Path);
        using var request = new HttpRequestMessage(HttpMethod.Get, target)
        {
            Version = _service.Options.HttpVersion,
            VersionPolicy = _service.ForwarderConfig.VersionPolicy ?? HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Headers.UserAgent.ParseAdd("Manypaths-standby-warmup");
        if (path.PeerMesh is null && health.Host is { } host)
        {
            request.Headers.Host = host;
        }

        if (path.PeerMesh is not null && _service.Relay is { } relay)
        {
            Mesh.RelayHeaders.Sign(request, relay.Signer, relay.Self, relay.Options.HopLimit - 1, "", relay.Time);
        }

        try
        {
            using var response = await _service.Invoker.SendOnceAsync(request, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken); // read to the end: the connection goes back to the pool
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _stop.Cancel(); // not disposed: a warm-up under way may still link to it
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1210, EventName = "StandbyWarmed", Level = LogLevel.Debug,
            Message = "Service {Service}: standby path to {Upstream} via {Path} warmed: {Ok} of {Count} connections ready")]
        public static partial void Warmed(ILogger logger, string service, string upstream, string path, int ok, int count);

        [LoggerMessage(EventId = 1211, EventName = "StandbyWarmFailed", Level = LogLevel.Debug, Message = "Service {Service}: standby warm-up stopped: {Error}")]
        public static partial void WarmFailed(ILogger logger, string service, string error);
    }
}
