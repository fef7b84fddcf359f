using Manypaths.Config;

namespace Manypaths.Health;

/// <summary>
/// The health state machine of one upstream as seen from this node. Pure: fed probe and request results,
/// reads time only from the injected <see cref="TimeProvider"/>. Thread-safe.
/// </summary>
internal sealed class UpstreamHealth
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private HealthCheckOptions _check;
    private PassiveHealthOptions _passive;
    private HealthState _state = HealthState.Unknown;
    private int _probeOk;
    private int _probeFail;
    private int _passiveFailures;
    private DateTimeOffset? _lastTransition;
    private string _reason = "not probed yet";
    private DateTimeOffset? _ejectedUntil;
    private DateTimeOffset? _lastEjection;
    private TimeSpan _ejectLength;
    private DateTimeOffset? _answeredDownAt;
    private Ewma _latency = new(0.3);
    private Ewma _success = new(0.1);
    private DateTimeOffset _lastPathFailure;
    private long _quietUntil;
    private int _warming;

    public UpstreamHealth(HealthCheckOptions check, PassiveHealthOptions passive, TimeProvider time)
    {
        _check = check;
        _passive = passive;
        _time = time;
        _ejectLength = passive.Eject;
    }

    /// <summary>Raised outside the lock after every state change.</summary>
    public event Action<HealthTransition>? Transitioned;

    public HealthState State => _state;

    /// <summary>True between the first result against the current state and rise/fall: probe faster.</summary>
    public bool IsChangingState
    {
        get
        {
            lock (_lock)
            {
                return _state == HealthState.Down ? _probeOk > 0 : _probeFail > 0;
            }
        }
    }

    /// <summary>A reload may change rise/fall and ejection settings; the state carries over.</summary>
    public void Reconfigure(HealthCheckOptions check, PassiveHealthOptions passive)
    {
        lock (_lock)
        {
            _check = check;
            _passive = passive;
        }
    }

    /// <summary>
    /// Loss this path showed is forgotten once its last failure is this old with none since: a path that carries only
    /// probes (a backup, a path whose traffic went through a peer) gets a sample every 2 s, and the success average
    /// alone then remembered a 2 s / 2 s flap for 40 s, sending traffic through a peer (+60 ms at 250 ms round trips)
    /// long after the path healed.
    /// </summary>
    public static readonly TimeSpan LossMemory = TimeSpan.FromSeconds(10);

    public HealthSnapshot Snapshot()
    {
        lock (_lock)
        {
            var success = double.IsNaN(_success.Value) ? 1 : _success.Value;
            if (success < 1 && _time.GetUtcNow() - _lastPathFailure > LossMemory)
            {
                success = 1;
            }

            return new HealthSnapshot(_state, _latency.Value, success,
                Math.Max(_probeFail, _passiveFailures), _lastTransition, _reason, _ejectedUntil,
                _state == HealthState.Down && _answeredDownAt is { } at && _time.GetUtcNow() - at < PeerDetectionTime(_check),
                _quietUntil != 0 && _time.GetTimestamp() < _quietUntil,
                Volatile.Read(ref _warming) > 0);
        }
    }

    /// <summary>
    /// A standby warm-up starts on this path: its requests hold the pooled connections they take until they are
    /// answered, so a request sent here meanwhile waits for one of them or for a new connection (a round trip more,
    /// measured at 60 ms between sites: 7 requests of a failover over the p99 target). Until
    /// <see cref="EndWarming"/>, new requests prefer another path of the same rank. Not a health verdict.
    /// </summary>
    public void BeginWarming() => Interlocked.Increment(ref _warming);

    /// <summary>The warm-up begun by <see cref="BeginWarming"/> has ended (answered, failed or cancelled).</summary>
    public void EndWarming() => Interlocked.Decrement(ref _warming);

    /// <summary>
    /// Nothing came back on this path for a short while though requests wait on it past their usual time: new requests
    /// go another way of the same rank, if there is one, for <paramref name="length"/> or until an answer comes. Not a
    /// health verdict (no ejection, no rescue): the silence judgement makes that a little later, or an answer ends it.
    /// </summary>
    /// <returns>Whether the path was not quiet before.</returns>
    public bool MarkQuiet(TimeSpan length)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var was = _quietUntil != 0 && now < _quietUntil;
            _quietUntil = now + Service.Timestamps.Ticks(_time, length);
            return !was;
        }
    }

    /// <param name="definitive">A failed check whose answer came from the upstream itself and says it is not fit (a
    /// role check that found a replica): down at once, whatever 'fall' says.</param>
    public void ReportProbe(bool ok, TimeSpan latency, string detail, bool definitive = false)
    {
        HealthTransition? t;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            _success.Add(ok ? 1 : 0);
            _lastPathFailure = ok ? _lastPathFailure : now;
            if (ok)
            {
                _latency.Add(latency.TotalMilliseconds);
                _probeFail = 0;
                if (_ejectedUntil is { } until && now < until)
                {
                    _probeOk = 0; // successes during an ejection do not count towards rise
                    return;
                }

                _ejectedUntil = null;
                _probeOk++;
                t = _state switch
                {
                    HealthState.Unknown => Move(HealthState.Up, "first probe succeeded", now),
                    HealthState.Down when _probeOk >= _check.Rise => Move(HealthState.Up, $"{_probeOk} probes succeeded", now),
                    _ => null,
                };
                if (t is not null)
                {
                    // Back up after rise: the outage's failures no longer describe this path (they would keep a
                    // degraded-path rule preferring a relay long after the path healed).
                    _passiveFailures = 0;
                    _success = new Ewma(0.1);
                    _success.Add(1);
                }
            }
            else
            {
                _probeOk = 0;
                _probeFail++;
                if (_state == HealthState.Down && _ejectedUntil is { } until && _answeredDownAt is null)
                {
                    // A path ejected for its own fault (silent, timing out) that still fails is not back: it returns
                    // only after a whole ejection length without a failed probe. A flapping link (2 s down, 2 s up)
                    // would otherwise take traffic in an up phase and strand every request in flight at the next
                    // down (about 60 at 200/s and 250 ms round trips, each onset). An upstream that answered that it
                    // is gone (refused, reset) is not held so: when it restarts it is back at once.
                    var quiet = now + _passive.Eject;
                    _ejectedUntil = quiet > until ? quiet : until;
                }

                t = _state switch
                {
                    HealthState.Unknown => Move(HealthState.Down, $"probe failed: {detail}", now),
                    HealthState.Up or HealthState.Suspect when definitive => Move(HealthState.Down, detail, now),
                    HealthState.Up or HealthState.Suspect when _probeFail >= _check.Fall => Move(HealthState.Down, $"{_probeFail} probes failed: {detail}", now),
                    _ => null,
                };
                if (t is not null)
                {
                    _answeredDownAt = null; // probes see what peers' probes see: nothing to hold back
                }
            }
        }

        Raise(t);
    }

    public void ReportRequest(RequestOutcome outcome, TimeSpan latency, string detail)
    {
        HealthTransition? t = null;
        lock (_lock)
        {
            // A success on an Up path (nearly every request) changes no state and needs no time.
            var now = outcome == RequestOutcome.Success && _state == HealthState.Up ? default : _time.GetUtcNow();
            if (_state == HealthState.Down && outcome is RequestOutcome.Refused or RequestOutcome.Broken or RequestOutcome.Gone)
            {
                _answeredDownAt ??= now; // out already (silent, say), and now the upstream's side says it is gone
            }

            // The success average describes the path: an answer from the upstream's side (a refusal, a reset, a bad
            // status) is no loss on the way to it, and a peer's path to the same upstream would get the same answer
            // (one reset made a direct path 10% lossy, and new requests went through a peer to a killed primary).
            if (outcome is RequestOutcome.Success)
            {
                _success.Add(1);
            }
            else if (outcome is not (RequestOutcome.Refused or RequestOutcome.Broken or RequestOutcome.Gone or RequestOutcome.BadStatus))
            {
                _success.Add(0);
                _lastPathFailure = now;
            }

            if (outcome is not (RequestOutcome.Timeout or RequestOutcome.Outpaced or RequestOutcome.Silent or RequestOutcome.ConnectFailed))
            {
                _quietUntil = 0; // an answer came back on it
            }

            switch (outcome)
            {
                case RequestOutcome.Success:
                    _latency.Add(latency.TotalMilliseconds);
                    _passiveFailures = 0;
                    if (_state == HealthState.Suspect)
                    {
                        t = Move(HealthState.Up, "a request succeeded", now);
                    }

                    break;
                case RequestOutcome.ConnectFailed or RequestOutcome.Refused:
                    _passiveFailures++;
                    t = Eject($"connect failed: {detail}", now, answered: outcome == RequestOutcome.Refused);
                    break;
                case RequestOutcome.Gone:
                    _passiveFailures++;
                    t = Eject($"went away: {detail}", now, answered: true);
                    break;
                case RequestOutcome.Silent:
                    _passiveFailures++;
                    t = Eject($"went silent: {detail}", now);
                    break;
                default:
                    _passiveFailures++;
                    if (_passiveFailures >= _passive.Failures)
                    {
                        t = Eject($"{_passiveFailures} requests in a row failed: {detail}", now, answered: outcome == RequestOutcome.Broken);
                    }
                    else if (_state is HealthState.Up or HealthState.Unknown)
                    {
                        t = Move(HealthState.Suspect, $"request failed: {detail}", now);
                    }

                    break;
            }
        }

        Raise(t);
    }

    /// <summary>
    /// Whether a relayed path to this upstream, in state <paramref name="relayed"/>, came back only as peers see it:
    /// this node's direct path went down because the upstream's own side answered (it died: a refusal, a reset), and
    /// the relayed path turned usable after that, less than <see cref="PeerDetectionTime"/> ago. Then the upstream
    /// has most likely just returned (restarted), and this node's own probes will see it as soon as the peers' did;
    /// a relay buys nothing but a first connect through a peer whose pool to the returned upstream is empty (at 250 ms
    /// round trips, 560 ms a request until this node's path came up). A relayed path that stayed usable throughout (a
    /// firewall refusing only this node) is not held back.
    /// </summary>
    public bool ReturnNotYetSeenHere(HealthSnapshot relayed)
    {
        lock (_lock)
        {
            return _state == HealthState.Down && _answeredDownAt is { } downAt
                && relayed.State is HealthState.Up or HealthState.Suspect && relayed.LastTransition is { } back && back > downAt
                && _time.GetUtcNow() - back < PeerDetectionTime(_check);
        }
    }

    /// <summary>
    /// How long peers probing with the same settings may take to see what this node just saw: a probe interval, then
    /// 'fall' probes each up to the timeout at the fast interval, plus a second for their heartbeats.
    /// </summary>
    public static TimeSpan PeerDetectionTime(HealthCheckOptions check) =>
        check.Interval + (check.FastInterval + check.Timeout) * check.Fall + TimeSpan.FromSeconds(1);

    private HealthTransition? Eject(string reason, DateTimeOffset now, bool answered = false)
    {
        if (_state == HealthState.Down)
        {
            return null; // already out; a least-bad attempt that fails does not extend the back-off
        }

        _answeredDownAt = answered ? now : null;

        var recent = _lastEjection is { } last && now - last < _ejectLength + _passive.EjectMax;
        _ejectLength = recent ? TimeSpan.FromTicks(Math.Min(_ejectLength.Ticks * 2, _passive.EjectMax.Ticks)) : _passive.Eject;
        _lastEjection = now;
        _ejectedUntil = now + _ejectLength;
        _probeOk = 0;
        return Move(HealthState.Down, $"ejected for {Config.ValueParsers.FormatDuration(_ejectLength)}: {reason}", now);
    }

    private HealthTransition? Move(HealthState to, string reason, DateTimeOffset now)
    {
        var from = _state;
        _state = to;
        _reason = reason;
        _lastTransition = now;
        return from == to ? null : new HealthTransition(from, to, reason, now);
    }

    private void Raise(HealthTransition? t)
    {
        if (t is { } transition)
        {
            Transitioned?.Invoke(transition);
        }
    }
}
