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
/// p99 target after a blackhole. So every 250 ms it tells <see cref="StandbyPolicy"/> the in-flight peak and, when a
/// top-up is due and none is under way, sends that many GETs of the health path at once down each standby path in
/// turn (<see cref="PathChooser.Standby"/>). A relayed path is warmed through the peer's warm
/// endpoint (<see cref="Mesh.RelayHeaders.WarmPrefix"/>, signed): the peer GETs the health path over its own pool,
/// so its connections to the upstream are warm too, and outside its attempt loop. While a warm-up is out, the paths
/// whose connections it holds give way (<see cref="PathChooser.HeldByWarmup"/>); a standby path judged down is not
/// warmed, nor warmed on once judged so. Answers are read and dropped; no
/// health, latency, connect-time or request figure sees them. Only for HTTP health checks ('health.check: http'),
/// and off with 'warm_standby: false'.
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
    private readonly Lock _tick = new();
    private int _busy;
    private int _rising;

    /// <summary>The standby path a top-up warms now, and how to stop it: a path judged down meanwhile is not warmed
    /// on (a blackholed one would hold the top-up, and every later one, for <see cref="WarmTimeout"/>).</summary>
    private volatile Warming? _current;

    private sealed record Warming(PathKey Key, CancellationTokenSource Stop);

    /// <summary>A rising direct path is warmed again no sooner than this after its last such warm-up.</summary>
    private static readonly TimeSpan RisingGap = TimeSpan.FromSeconds(10);

    /// <summary>Each upstream's direct path's last warm-up as it rose from Down: for which outage (the time it went
    /// Down) and when.</summary>
    private readonly Dictionary<int, (DateTimeOffset? Outage, long At)> _warmedRising = [];

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
        if (!_tick.TryEnter())
        {
            return; // the previous tick is still deciding (a stalled thread pool): skip this one
        }

        try
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            StopWarmingADownPath();
            WarmRising();
            _policy.Observe(_service.TakeOwnPeak());
            if (Volatile.Read(ref _busy) == 0 && _policy.TakeDue() is var count and > 0)
            {
                Volatile.Write(ref _busy, 1);
                _ = WarmAsync(count);
            }
        }
        finally
        {
            _tick.Exit();
        }
    }

    private void StopWarmingADownPath()
    {
        if (_current is { } warming && !_service.Core.Chooser.HealthOf(warming.Key).Snapshot().Usable)
        {
            try
            {
                warming.Stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // that warm-up has just ended
            }
        }
    }

    /// <summary>
    /// A direct path coming back (Down, and its probes started to succeed) gets its pool warmed before it is Up
    /// again: its connections were closed in the outage, and every request moving back to it would otherwise open
    /// one first (measured at 250 ms round trips: 60 requests at 500 ms after a blackhole ended). Only while the
    /// service has had traffic lately, not for a drained upstream, once per outage (a path whose probes flap while it
    /// stays Down does not get a burst per flap), at most every <see cref="RisingGap"/> per upstream, and one such
    /// warm-up at a time. Not once a minute: a primary killed 40 s after a blackhole's outage came back cold (its
    /// pool was closed by the kill), and 50 requests paid a 250 ms connect on its return.
    /// </summary>
    private void WarmRising()
    {
        var count = _policy.Recent;
        foreach (var upstream in _service.Upstreams)
        {
            var rising = upstream.Health.State == Health.HealthState.Down && upstream.Health.IsChangingState;
            if (!rising || count == 0 || _service.Maintenance.IsDrained(_service.Name, upstream.Name))
            {
                continue;
            }

            var outage = upstream.Health.Snapshot().LastTransition;
            if ((_warmedRising.TryGetValue(upstream.Index, out var last) && (last.Outage == outage || _service.Time.GetElapsedTime(last.At) < RisingGap))
                || Interlocked.CompareExchange(ref _rising, 1, 0) != 0)
            {
                continue;
            }

            _warmedRising[upstream.Index] = (outage, _service.Time.GetTimestamp());
            _ = WarmRisingAsync(new PathChoice(new PathKey(upstream.Index, null), upstream.Options.Tier, PickReason.Healthy), count);
        }
    }

    private async Task WarmRisingAsync(PathChoice path, int count)
    {
        try
        {
            await WarmPathAsync(path, count, stopWhenDown: false); // Down is what it is coming back from
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
            foreach (var path in _service.Core.Chooser.Standby(hops).Where(p => p.Peer is null || _service.Relay is not null))
            {
                if (_service.Core.Chooser.HealthOf(path.Key).Snapshot().Usable)
                {
                    await WarmPathAsync(path, count, stopWhenDown: true); // one path at a time: a burst per path, not all at once
                }
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
    private async Task WarmPathAsync(PathChoice path, int count, bool stopWhenDown)
    {
        using var deadline = new CancellationTokenSource(WarmTimeout, _service.Time);
        using var judged = new CancellationTokenSource();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, deadline.Token, judged.Token);
        // The link to a peer that carries live requests now is warm by them; a burst of warm-ups over it would take the
        // idle connections those requests need (measured at 60 ms between sites: each request arriving during a burst
        // opened a connection, +60 ms, 13 over the p99 target in one warm-up). The peer warms its own leg with all of
        // them, asked in one request.
        var burst = path.Peer is not { } peer || _service.Relay is null || _service.Core.InFlight.Through(peer) == 0;
        // Either way the warm-up holds connections for a round trip: a failover or a flip of the cheaper peer meanwhile
        // prefers another path of the same rank (PathChooser), which has them free.
        var held = _service.Core.Chooser.HeldByWarmup(path.Key, burst);
        foreach (var health in held)
        {
            health.BeginWarming();
        }

        var warming = stopWhenDown ? new Warming(path.Key, judged) : null;
        if (warming is not null)
        {
            _current = warming; // a rising path's warm-up runs beside a top-up, and is not stopped so
        }

        int ok;
        try
        {
            if (!burst)
            {
                ok = await SendAsync(path, count, timeout.Token);
            }
            else
            {
                var sends = new Task<int>[count];
                for (var i = 0; i < count; i++)
                {
                    sends[i] = SendAsync(path, 1, timeout.Token);
                }

                ok = (await Task.WhenAll(sends)).Sum();
            }
        }
        finally
        {
            if (warming is not null)
            {
                _current = null;
            }

            foreach (var health in held)
            {
                health.EndWarming();
            }
        }

        _service.Metrics.StandbyWarmups.Add(ok, new KeyValuePair<string, object?>("service", _service.Name),
            new KeyValuePair<string, object?>("path", path.Peer ?? "direct"), new KeyValuePair<string, object?>("result", "ok"));
        if (ok < count)
        {
            _service.Metrics.StandbyWarmups.Add(count - ok, new KeyValuePair<string, object?>("service", _service.Name),
                new KeyValuePair<string, object?>("path", path.Peer ?? "direct"), new KeyValuePair<string, object?>("result", "failed"));
        }

        Log.Warmed(_logger, _service.Name, _service.Upstreams[path.Upstream].Name, path.Peer ?? "direct", ok, count);
    }

    /// <returns>How many of the <paramref name="count"/> GETs succeeded (a peer sends them all at once over its pool).</returns>
    private async Task<int> SendAsync(PathChoice path, int count, CancellationToken cancellationToken)
    {
        if (path.PeerMesh is null)
        {
            return await SendDirectAsync(_service, path.Upstream, cancellationToken) ? 1 : 0;
        }

        return WarmRequest(path, count) is { } request ? await SendAsync(_service, request, count, cancellationToken) : 0; // disposes the request
    }

    /// <summary>
    /// A signed GET of the peer's warm endpoint, not its relay: the peer GETs the health path over its own pool,
    /// outside its attempt loop, so a warm-up touches none of its health, latency or request figures.
    /// </summary>
    private HttpRequestMessage? WarmRequest(PathChoice path, int count)
    {
        if (path.PeerMesh is not { } peer || _service.Relay is not { } relay)
        {
            return null;
        }

        var upstream = _service.Upstreams[path.Upstream];
        var query = count > 1 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"?n={count}") : "";
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{peer.GetLeftPart(UriPartial.Authority)}{Mesh.RelayHeaders.WarmPrefix}{_service.Name}/{upstream.Name}{query}"));
        Mesh.RelayHeaders.Sign(request, relay.Signer, relay.Self, relay.Options.HopLimit - 1, "", relay.Time);
        return request;
    }

    /// <summary>One GET of <paramref name="upstream"/>'s health path straight over the service's pool (no attempt loop).</summary>
    public static async Task<bool> SendDirectAsync(ServiceRuntime service, int upstream, CancellationToken cancellationToken)
    {
        var health = service.Options.Health;
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(service.Upstreams[upstream].Prefix + health.Path))
        {
            Version = service.Options.HttpVersion,
            VersionPolicy = service.ForwarderConfig.VersionPolicy ?? HttpVersionPolicy.RequestVersionOrLower,
        };
        if (health.Host is { } host)
        {
            request.Headers.Host = host;
        }

        return await SendAsync(service, request, 1, cancellationToken) == 1;
    }

    /// <returns>How many of the <paramref name="asked"/> GETs succeeded: the answer's status for one, the peer's
    /// <see cref="Mesh.RelayHeaders.Warmed"/> for more.</returns>
    private static async Task<int> SendAsync(ServiceRuntime service, HttpRequestMessage request, int asked, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.UserAgent.ParseAdd("Manypaths-standby-warmup");
            request.Options.Set(UpstreamConnector.WarmupKey, true);
            try
            {
                using var response = await service.Pool.SendAsync(request, cancellationToken);
                await response.Content.LoadIntoBufferAsync(cancellationToken); // read to the end: the connection goes back to the pool
                if (!response.IsSuccessStatusCode)
                {
                    return 0;
                }

                return asked == 1 ? 1
                    : response.Headers.TryGetValues(Mesh.RelayHeaders.Warmed, out var values)
                      && int.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ok)
                        ? Math.Min(ok, asked) : 0;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                return 0;
            }
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
