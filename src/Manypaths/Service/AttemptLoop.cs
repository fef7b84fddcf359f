using Manypaths.Health;
using Manypaths.Proxy;
using Manypaths.Routing;

namespace Manypaths.Service;

/// <summary>How a request's attempts ended, for the front end to answer its client.</summary>
internal readonly record struct LoopResult<T>(T? Value, PathChoice? ServedBy, bool NothingToTry, bool NeverReachedUpstream, Exception? LastError)
    where T : class;

/// <summary>
/// The one attempt loop, for every protocol. It starts the next attempt when one fails (a retry: free when nothing
/// was sent or a relay never reached the upstream, else within 'retries' and the retry budget, for requests that
/// may be sent again), or on a timer: a hedge after the path's own p95 (idempotent requests, within the hedge
/// budget), a connect race when an attempt's connect is slower than that endpoint's usual (same tier, free), or a
/// rescue when the path an attempt waits on is judged down (free; the waiting attempt is given up only if the
/// request may be sent again). Timers only start attempts; only the front end's timeouts cancel one. The first
/// usable answer wins and the others are cancelled; a path still waiting past its usual time when another path
/// answered counts as a passive failure of that path (so a stalled path is ejected after a few requests); a path with
/// no usual time yet (a cold start) is never judged that way.
/// </summary>
internal sealed partial class AttemptLoop(ServiceCore core)
{
    /// <summary>Hedge delay before the path has enough samples for a p95.</summary>
    public static readonly TimeSpan ColdHedgeDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>Race delay before the endpoint has connect samples: RFC 8305's Happy Eyeballs delay.</summary>
    public static readonly TimeSpan ColdRaceDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>No adaptive delay is shorter: below this, scheduling noise would start attempts for nothing.</summary>
    public static readonly TimeSpan MinDelay = TimeSpan.FromMilliseconds(2);

    private const int MinSamples = 8;

    public Task<LoopResult<T>> RunAsync<T>(IAttemptRunner<T> runner, AttemptHistory history, CancellationToken cancellationToken)
        where T : class =>
        new Run<T>(core, runner, history, cancellationToken).ExecuteAsync();

    /// <summary>The hedge delay of a path: configured, else the p95 of its recent time to first byte.</summary>
    public TimeSpan HedgeDelay(PathKey path)
    {
        if (core.Options.Hedge?.Delay is { } fixedDelay)
        {
            return fixedDelay;
        }

        var window = core.FirstByteWindow(path);
        var ms = window.Count >= MinSamples ? window.QuantileMs : double.NaN;
        if (double.IsNaN(ms))
        {
            return ColdHedgeDelay;
        }

        return Clamp(TimeSpan.FromMilliseconds(ms), core.Options.Timeouts.FirstByte / 2);
    }

    /// <summary>
    /// How long an attempt on <paramref name="path"/> may wait, when another path answered first, before that counts as
    /// a passive failure of its path: its hedge delay (the fixed 'hedge.delay', else the path's p95, at least
    /// <see cref="MinDelay"/>). A hedge that wins was started at that moment and answered first, so the path it hedged
    /// was slower than 95% of its recent requests. Null while the path has too few samples for a p95: with no usual
    /// time known, being slower than another path says nothing (at a cold start every path is "slower" than the cold
    /// hedge delay). Not twice the p95: on loopback a relayed hedge answers 1 ms after it starts, so a blackholed path
    /// was never judged and every request after the hedge budget ran out waited 3 s for the health check.
    /// </summary>
    public TimeSpan? OutpacedAfter(PathKey path)
    {
        if (core.Options.Hedge?.Delay is { } fixedDelay)
        {
            return fixedDelay;
        }

        var window = core.FirstByteWindow(path);
        return window.Count < MinSamples || double.IsNaN(window.QuantileMs) ? null : HedgeDelay(path);
    }

    /// <summary>No path is judged silent after less than this without an answer (a GC pause, a scheduling hiccup).</summary>
    public static readonly TimeSpan MinSilence = TimeSpan.FromMilliseconds(100);

    /// <summary>A path quiet this long (and at least an eighth of its usual time) under waiting requests gets no new
    /// ones while another path of its rank is usable.</summary>
    public static readonly TimeSpan MinQuiet = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How long a path must be silent under <see cref="SilentWaiters"/> overdue requests before new requests avoid it
    /// (<see cref="Health.UpstreamHealth.MarkQuiet"/>): an eighth of its usual time, at least <see cref="MinQuiet"/>.
    /// Far sooner than the judgement (half the usual time, at least 100 ms), because it costs little when wrong: a new
    /// request goes through a peer or to another upstream of the tier until an answer comes. At 250 ms round trips
    /// the 100 ms between the two sent 20 requests onto a dark path, each then waiting for its rescue.
    /// </summary>
    public static TimeSpan QuietAfter(TimeSpan usual) => usual / 8 > MinQuiet ? usual / 8 : MinQuiet;

    /// <summary>Requests waiting past the path's usual time before its silence says anything.</summary>
    public const int SilentWaiters = 3;

    /// <summary>
    /// Whether <paramref name="path"/> went dark under its requests: nothing came back on it for half its usual time
    /// (its p95, at least <see cref="MinSilence"/>), counted from the last answer or from when the first answer was due,
    /// while <see cref="SilentWaiters"/> requests or more waited on it past that usual time (not counting a connect).
    /// Then it is ejected at once (<see cref="RequestOutcome.Silent"/>), which rescues every request waiting on it, a
    /// hedge's round trip sooner than winning hedges could show it (at 250 ms, that is 300 ms or more).
    /// A path with no usual time yet, no answer time, or already down is not judged; nor the last usable path (ejecting
    /// it would fail the requests it may still answer, and every request after them for the ejection); nor any path
    /// when this node itself was stalled (<paramref name="lateBy"/>, how late the timer that asks ran, is past half
    /// of <see cref="MinSilence"/>: a GC pause or a starved CPU leaves answers unread, which is not their path's fault).
    /// </summary>
    /// <param name="hopsLeft">The hops the asking request may take (whether relayed paths count as somewhere else).</param>
    public bool JudgeSilence(PathChoice path, int hopsLeft, TimeSpan lateBy = default)
    {
        var window = core.FirstByteWindow(path.Key);
        if (window.Count < MinSamples || window.LastAt is not { } last || core.Chooser.HealthOf(path.Key).State == HealthState.Down)
        {
            return false;
        }

        var usual = HedgeDelay(path.Key);
        var quiet = usual / 2 > MinSilence ? usual / 2 : MinSilence;
        var now = core.Time.GetTimestamp();
        var usualTicks = Timestamps.Ticks(core.Time, usual);
        var (waiting, oldest) = core.InFlight.Overdue(path.Key, now - usualTicks);
        if (waiting < SilentWaiters)
        {
            return false;
        }

        // Silent since the last answer, or since an answer was first due (a path that was idle, or just came back,
        // has no recent answers and is not silent for that).
        var silentFor = core.Time.GetElapsedTime(Math.Max(last, oldest + usualTicks), now);
        var stalled = lateBy > MinSilence / 2;
        if (silentFor < quiet)
        {
            if (silentFor >= QuietAfter(usual) && !stalled && core.Chooser.HealthOf(path.Key).MarkQuiet(quiet))
            {
                core.CountQuiet();
            }

            return false;
        }

        // Only a path that looked silent is counted as not judged.
        if (stalled)
        {
            core.CountSilenceNotJudged("node_stalled");
            return false;
        }

        if (!core.Chooser.HasUsableBesides(path.Key, hopsLeft))
        {
            core.CountSilenceNotJudged("last_usable_path");
            return false;
        }

        core.Chooser.Report(path, RequestOutcome.Silent, silentFor,
            $"no answer for {silentFor.TotalMilliseconds:0} ms while {waiting} requests waited past its usual {usual.TotalMilliseconds:0} ms");
        return true;
    }

    /// <summary>The race delay of a connect: twice the p95 of that endpoint's recent connect times.</summary>
    public TimeSpan RaceDelay(string? endpoint)
    {
        var window = endpoint is null ? null : core.ConnectWindow(endpoint);
        var ms = window is { Count: >= MinSamples / 2 } ? window.QuantileMs : double.NaN;
        return double.IsNaN(ms) ? ColdRaceDelay : Clamp(TimeSpan.FromMilliseconds(2 * ms), core.Options.Timeouts.Connect / 2);
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan max) => value < MinDelay ? MinDelay : value > max ? max : value;

    /// <summary>The state of one request's loop.</summary>
    private sealed class Run<T>(ServiceCore core, IAttemptRunner<T> runner, AttemptHistory history, CancellationToken cancellationToken) : IWakeable
        where T : class
    {
        private readonly List<(Attempt Attempt, Task<AttemptOutcome<T>> Task)> _running = new(2);
        private readonly TimeProvider _time = core.Time;
        private readonly int _maxPaid = 1 + core.Options.Retry.Retries;
        /// <summary>hedge.max_attempts: attempts of one request under way at once, and 1 + the hedges it may start.</summary>
        private readonly int _maxConcurrent = core.Options.Hedge?.MaxAttempts ?? 1;
        private TaskCompletionSource? _wake;
        private Action? _wakeAction;
        /// <summary>Bumped at every re-arm, so the shared timer's wake-ups for an earlier due time are ignored.</summary>
        private int _timerVersion;
        private CancellationTokenRegistration _cancelled;
        private T? _fallback;
        private PathChoice? _fallbackPath;
        private Exception? _lastError;
        private bool _neverReached = true;
        private bool _hedgeDenied;
        /// <summary>How late the timer whose action runs now fired (this node's own stall, if large).</summary>
        private TimeSpan _timerLateBy;
        private int _number;
        private int _paid;
        private int _hedges;
        /// <summary>The request's connect race, from its first slow connect on.</summary>
        private ConnectRace? _race;
        /// <summary>A failure whose retry was left to an attempt still running (a connect race's loser hands it back).</summary>
        private AttemptFailure? _deferred;

        /// <summary>Runs the loop to its result; whatever is still running then (the losers) is cancelled.</summary>
        public async Task<LoopResult<T>> ExecuteAsync()
        {
            try
            {
                if (!Start(AttemptKind.First))
                {
                    return new LoopResult<T>(null, null, NothingToTry: true, NeverReachedUpstream: true, null);
                }

                _paid = 1;
                _cancelled = cancellationToken.UnsafeRegister(static s => ((Run<T>)s!).Wake(), this);
                while (_running.Count > 0)
                {
                    // One wake-up signal per turn, published before anything is checked, so no event is lost: an attempt
                    // ending, a path judged down under one, the timer, or the request's cancellation all complete it.
                    var signal = new TaskCompletionSource();
                    Volatile.Write(ref _wake, signal);
                    // The timer's due time is absolute (a timestamp): however late this thread gets to arming it, it
                    // fires when it was due, not that much later.
                    var (timerDue, timerAction) = NextTimer();
                    var armedAt = timerDue is null ? 0 : _time.GetTimestamp(); // no clock read for a service with no timers
                    Arm(timerDue, armedAt);
                    if (!Ready(timerDue))
                    {
                        await signal.Task.ConfigureAwait(false);
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                    if (TakeFinished() is { } done)
                    {
                        return done;
                    }

                    RescueStranded();
                    if (timerDue is { } due && _time.GetTimestamp() is var now && now >= due)
                    {
                        // Late from when it could first run: a time already past when this turn began (a hedge time
                        // that came while another attempt of the request was newest) is not this node stalling.
                        _timerLateBy = Timestamps.Span(_time, now - Math.Max(due, armedAt));
                        timerAction?.Invoke();
                    }
                }

                if (_fallback is not null)
                {
                    var value = _fallback;
                    _fallback = null;
                    return new LoopResult<T>(value, _fallbackPath, false, false, null);
                }

                return new LoopResult<T>(null, null, NothingToTry: _number == 0, _neverReached, _lastError);
            }
            finally
            {
                CancelTheRest();
            }
        }

        private void Wake() => Volatile.Read(ref _wake)?.TrySetResult();

        /// <summary>The request's next timer (hedge or race), on the service's shared <see cref="WakeTimer"/>.</summary>
        private void Arm(long? due, long now)
        {
            var version = Interlocked.Increment(ref _timerVersion);
            if (due is { } d && d > now) // one already due is acted on at once (Ready), with no wake-up
            {
                core.Wakeups.Schedule(this, version, d);
            }
        }

        public void Due(int version)
        {
            if (version == Volatile.Read(ref _timerVersion))
            {
                Wake();
            }
        }

        /// <summary>Something to act on already: no need to wait for the signal.</summary>
        private bool Ready(long? timerDue)
        {
            if ((timerDue is { } due && _time.GetTimestamp() >= due) || cancellationToken.IsCancellationRequested)
            {
                return true;
            }

            foreach (var (attempt, task) in _running)
            {
                if (task.IsCompleted || (attempt.RescueRequested && !attempt.FirstByte && !attempt.RescueConsidered && !attempt.Abandoned))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Cancels what is still running (the losers) and releases answers nobody will use.</summary>
        public void CancelTheRest()
        {
            Interlocked.Increment(ref _timerVersion);
            _cancelled.Dispose();
            foreach (var (attempt, task) in _running)
            {
                attempt.Cancel();
                core.InFlight.Unregister(attempt);
                _ = task.ContinueWith(t =>
                {
                    if (t.Result.Value is { } value)
                    {
                        runner.Discard(value);
                    }

                    attempt.Dispose();
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            _running.Clear();
            if (_fallback is not null)
            {
                runner.Discard(_fallback);
                _fallback = null;
            }
        }

        private bool Start(AttemptKind kind, int? onlyTier = null, ConnectRace? race = null) => Choose(kind, onlyTier) is { } choice && Launch(kind, choice, race);

        private PathChoice? Choose(AttemptKind kind, int? onlyTier = null) =>
            core.Chooser.Next(history, onlyTier, allowLeastBad: kind is AttemptKind.First or AttemptKind.Retry);

        private bool Launch(AttemptKind kind, PathChoice choice, ConnectRace? race = null)
        {
            history.Add(choice.Key);
            history.LeastBadUsed |= choice.Reason == PickReason.LeastBad;
            var wake = _wakeAction ??= Wake;
            var attempt = new Attempt(++_number, kind, choice, _time, cancellationToken, wake);
            if (core.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
            {
                Log.Started(core.Logger, core.Name, attempt.Number, kind, core.Upstreams[choice.Upstream].Name, choice.Peer ?? "direct", choice.Reason);
            }

            if (race is not null)
            {
                attempt.JoinRace(race); // before it runs: its connect may end inside RunAsync
            }

            core.InFlight.Register(attempt);
            var task = runner.RunAsync(attempt);
            race?.Runs(attempt, task);
            _running.Add((attempt, task));
            task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(wake);
            core.Count(kind);
            return true;
        }

        /// <summary>The soonest timer: a hedge of the newest attempt, or a race of a slow connect.</summary>
        private (long? Due, Action? Action) NextTimer()
        {
            // With nowhere else to go there is no timer, and no closure is built for one on every turn.
            return core.Chooser.HasAlternatives ? SoonestTimer() : (null, null);
        }

        /// <summary>The soonest due time, as a timestamp of the service's clock.</summary>
        private (long? Due, Action? Action) SoonestTimer()
        {
            long? due = null;
            Action? action = null;
            void Consider(long from, TimeSpan delay, Action what)
            {
                var at = from + Timestamps.Ticks(_time, delay);
                if (due is null || at < due)
                {
                    (due, action) = (at, what);
                }
            }

            if (runner.MayHedge && !_hedgeDenied && _hedges + 1 < _maxConcurrent && _running.Count < _maxConcurrent && _running.TrueForAll(r => !r.Attempt.FirstByte))
            {
                var newest = _running[^1].Attempt;
                Consider(newest.Started, core.Loop.HedgeDelay(newest.Path.Key), Hedge);
            }

            foreach (var (attempt, _) in _running)
            {
                if (runner.MayRace && attempt.ConnectPending && !attempt.Raced && !attempt.Abandoned)
                {
                    Consider(attempt.ConnectStarted, core.Loop.RaceDelay(attempt.ConnectEndpoint), () => Race(attempt));
                }
            }

            return (due, action);
        }

        private void Hedge()
        {
            if (_running.Count == 0 || _running.Count >= _maxConcurrent || _hedges + 1 >= _maxConcurrent || _running.Exists(r => r.Attempt.FirstByte))
            {
                return; // things changed while the timer ran: an attempt ended or answered
            }

            // The hedge time of a request is when its path's silence can first be judged: if the path went dark, its
            // waiting requests (this one too) are rescued for free, and no hedge token is spent.
            var judged = false;
            foreach (var (attempt, _) in _running)
            {
                judged |= !attempt.FirstByte && !attempt.Abandoned && core.Loop.JudgeSilence(attempt.Path, history.HopsLeft, _timerLateBy);
            }

            if (judged)
            {
                return;
            }

            if (Choose(AttemptKind.Hedge) is not { } elsewhere)
            {
                _hedgeDenied = true; // no other path now: no token spent, no hedge timer again for this request
                return;
            }

            if (!core.Hedges.TryTake())
            {
                _hedgeDenied = true;
                core.CountHedge("denied");
                return;
            }

            Launch(AttemptKind.Hedge, elsewhere);
            _hedges++;
            core.CountHedge("started");
        }

        private void Race(Attempt slow)
        {
            slow.Raced = true;
            // A connect to the same endpoint succeeded since this one started: the endpoint answers connects, and this
            // one waits its turn among them (a burst of new requests), not for a lost SYN. SocketsHttpHandler may also
            // have served the request on a connection that came free meanwhile, and a race would send it twice.
            if (slow.ConnectEndpoint is { } endpoint && core.ConnectWindow(endpoint).LastAt is { } connected && connected > slow.ConnectStarted)
            {
                return;
            }

            if (slow.ConnectPending && !slow.FirstByte && _running.Exists(r => r.Attempt == slow))
            {
                // The first of the two to connect wins (Attempt.Connected); one that connected just now starts none.
                var race = _race ??= new ConnectRace();
                var joined = slow.JoinRace(race);
                race.Runs(slow, _running.Find(r => r.Attempt == slow).Task);
                if (joined)
                {
                    Start(AttemptKind.Race, onlyTier: slow.Path.Tier, race);
                }
            }
        }

        /// <summary>Attempts whose path was judged down while they waited: started again elsewhere, if allowed.</summary>
        private void RescueStranded()
        {
            for (int i = 0, n = _running.Count; i < n; i++) // attempts launched here are not looked at
            {
                var attempt = _running[i].Attempt;
                if (!attempt.RescueRequested || attempt.RescueConsidered || attempt.FirstByte || attempt.Abandoned)
                {
                    continue;
                }

                // Once, and only to a usable path: with nowhere healthy to go (a least-bad guess is worse than an
                // attempt that may still answer), or a request that may not be sent again, it keeps waiting.
                attempt.RescueConsidered = true;
                if (Choose(AttemptKind.Rescue) is { } elsewhere && runner.TryAbandon(attempt))
                {
                    attempt.Abandon();
                    core.CountRescue();
                    Launch(AttemptKind.Rescue, elsewhere);
                }
            }
        }

        private LoopResult<T>? TakeFinished()
        {
            // The attempts running as this turn began, in start order; ones launched while these are handled are
            // looked at next turn. No list of the finished ones: each is taken out where it stands.
            for (int i = 0, left = _running.Count; left > 0; left--)
            {
                var entry = _running[i];
                if (!entry.Task.IsCompleted)
                {
                    i++;
                    continue;
                }

                _running.RemoveAt(i);
                var (attempt, task) = entry;
                core.InFlight.Unregister(attempt);
                var outcome = task.GetAwaiter().GetResult(); // completed: runners report failures as outcomes
                if (core.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
                {
                    Log.Ended(core.Logger, core.Name, attempt.Number, outcome.Result, outcome.Latency.TotalMilliseconds, outcome.Detail, attempt.Abandoned);
                }

                if (attempt.Abandoned)
                {
                    Discard(outcome);
                    attempt.Dispose();
                    continue;
                }

                if (outcome.Health is { } health)
                {
                    core.Chooser.Report(attempt.Path, health, outcome.Latency, outcome.Detail);
                    if (health is RequestOutcome.Refused or RequestOutcome.Broken && !attempt.Path.Key.Relayed)
                    {
                        history.MarkAnsweredDown(attempt.Path.Upstream); // its retry goes to a direct backup first
                    }
                }

                if (outcome.Result is AttemptResult.Success or AttemptResult.RetryableStatus)
                {
                    core.FirstByteWindow(attempt.Path.Key).Add(outcome.Latency, _time.GetTimestamp());
                }

                if (outcome.Result == AttemptResult.Success)
                {
                    Won(attempt);
                    attempt.Dispose();
                    return new LoopResult<T>(outcome.Value, attempt.Path, false, false, null);
                }

                Next(attempt, outcome);
                attempt.Dispose();
            }

            return null;
        }

        /// <summary>What a finished attempt that did not win leads to.</summary>
        private void Next(Attempt attempt, AttemptOutcome<T> outcome)
        {
            switch (outcome.Result)
            {
                case AttemptResult.RetryableStatus:
                    _neverReached = false;
                    if (_fallback is not null)
                    {
                        runner.Discard(_fallback);
                    }

                    (_fallback, _fallbackPath) = (outcome.Value, attempt.Path);
                    // Every path down meanwhile (an upstream that paused past its probe timeout is down in every view at
                    // once): the least-bad path once per request, as for a first attempt, rather than this answer now.
                    if (runner.MayRetry(AttemptFailure.RetryableStatus) && _paid < _maxPaid && _running.Count == 0 && core.Chooser.Next(history) is not null
                        && core.WithdrawRetry())
                    {
                        _paid++;
                        core.CountRetry("status");
                        Start(AttemptKind.Retry);
                    }

                    break;
                case AttemptResult.Unreached:
                    // The relay never reached the upstream either: as free as a refused connect here (a least-bad
                    // guess that went so does not use up the request's one guess either).
                    if (attempt.Path.Reason == PickReason.LeastBad)
                    {
                        history.LeastBadUsed = false;
                    }

                    if (runner.MayRetry(AttemptFailure.NeverSent))
                    {
                        Replace(attempt);
                    }

                    break;
                case AttemptResult.Failed:
                    _lastError = outcome.Error ?? _lastError;
                    if (attempt.Path.Reason == PickReason.LeastBad && outcome.Failure == AttemptFailure.NeverSent)
                    {
                        history.LeastBadUsed = false; // a refused connect cost nothing: the one chance is not used up
                    }

                    if (outcome.Failure != AttemptFailure.NeverSent)
                    {
                        _neverReached = false;
                    }

                    if (!runner.MayRetry(outcome.Failure))
                    {
                        break;
                    }

                    if (outcome.Failure == AttemptFailure.NeverSent)
                    {
                        Replace(attempt); // put no load on any upstream: free
                    }
                    else if (_running.Count > 0)
                    {
                        _deferred = outcome.Failure; // another attempt is still going; it decides
                    }
                    else
                    {
                        Retry(outcome.Failure);
                    }

                    break;
                case AttemptResult.LostRace when _running.Count == 0 && _deferred is { } failure:
                    // It lost its connect race to an attempt that failed since: it was the one left to decide.
                    _deferred = null;
                    Retry(failure);
                    break;
            }
        }

        /// <summary>A paid retry after <paramref name="failure"/>, if the budget and a path (the least bad too) allow.</summary>
        private void Retry(AttemptFailure failure)
        {
            if (_paid < _maxPaid && core.Chooser.Next(history) is not null && core.WithdrawRetry())
            {
                _paid++;
                core.CountRetry(failure.ToString().ToLowerInvariant());
                Start(AttemptKind.Retry);
            }
        }

        /// <summary>
        /// An attempt that provably sent nothing (a refused connect, a relay that never reached the upstream) is
        /// replaced for free by one of the same kind on the next path: a hedge stays a hedge (without spending the
        /// budget again), a race stays in its tier; alone, it is a retry.
        /// </summary>
        private void Replace(Attempt failed)
        {
            var kind = _running.Count == 0 ? AttemptKind.Retry : failed.Kind is AttemptKind.Hedge or AttemptKind.Race ? failed.Kind : AttemptKind.Retry;
            if (_running.Count == 0 || kind != AttemptKind.Retry)
            {
                Start(kind, kind == AttemptKind.Race ? failed.Path.Tier : null, kind == AttemptKind.Race ? _race : null);
            }
        }

        /// <summary>
        /// <paramref name="winner"/> answered: every other attempt is cancelled. One that was still waiting well past its
        /// path's usual time (<see cref="OutpacedAfter"/>) was outpaced: its path counts a passive failure. Hedges that did not
        /// win cost the hedge budget again.
        /// </summary>
        private void Won(Attempt winner)
        {
            if (winner.Kind == AttemptKind.Hedge)
            {
                core.CountHedge("won");
            }

            if (_running.Count == 0)
            {
                return; // it ran alone
            }

            var now = _time.GetTimestamp();
            foreach (var (loser, _) in _running)
            {
                if (loser.Kind == AttemptKind.Hedge)
                {
                    core.Hedges.Lost();
                }

                if (!loser.Abandoned && !loser.FirstByte && loser.Path.Key != winner.Path.Key
                    && core.Loop.OutpacedAfter(loser.Path.Key) is { } usual && _time.GetElapsedTime(loser.Started, now) >= usual)
                {
                    core.Chooser.Report(loser.Path, RequestOutcome.Outpaced, _time.GetElapsedTime(loser.Started, now), $"another path answered first ({winner.Path.Key})");
                }
            }
        }

        private void Discard(AttemptOutcome<T> outcome)
        {
            if (outcome.Value is { } value)
            {
                runner.Discard(value);
            }
        }
    }

    private static partial class Log
    {
        [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1201, EventName = "AttemptStarted", Level = Microsoft.Extensions.Logging.LogLevel.Debug,
            Message = "Service {Service}: attempt {Number} ({Kind}) to {Upstream} via {Path} ({Reason})")]
        public static partial void Started(Microsoft.Extensions.Logging.ILogger logger, string service, int number, AttemptKind kind, string upstream, string path, PickReason reason);

        [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1202, EventName = "AttemptEnded", Level = Microsoft.Extensions.Logging.LogLevel.Debug,
            Message = "Service {Service}: attempt {Number} ended {Result} after {Ms:0.0} ms: {Detail} (abandoned: {Abandoned})")]
        public static partial void Ended(Microsoft.Extensions.Logging.ILogger logger, string service, int number, AttemptResult result, double ms, string detail, bool abandoned);
    }
}
