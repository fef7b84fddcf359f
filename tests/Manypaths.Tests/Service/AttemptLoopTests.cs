using System.Collections.Concurrent;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Proxy;
using Manypaths.Routing;
using Manypaths.Service;
using Manypaths.Telemetry;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Service;

/// <summary>
/// The one attempt loop, in virtual time, with a scripted runner (each attempt ends when the test says so) and fake
/// relay candidates: retries, hedges, connect races and rescues are the same code, so they agree.
/// </summary>
public sealed class AttemptLoopTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ManypathsMetrics _metrics = new();
    private readonly FakeRelays _relays = new();

    private sealed class FakeRelays : IRelayCandidates
    {
        public List<RelayCandidate> Candidates { get; } = [];

        public IReadOnlyList<RelayCandidate> For(string service, string upstream) => Candidates;
    }

    /// <summary>Each attempt waits until the test finishes it; a cancelled one ends as Cancelled.</summary>
    private sealed class ScriptedRunner : IAttemptRunner<string>
    {
        private readonly ConcurrentDictionary<int, TaskCompletionSource<AttemptOutcome<string>>> _pending = new();

        public ConcurrentQueue<Attempt> Started { get; } = new();
        public ConcurrentQueue<int> Cancelled { get; } = new();
        public bool MayHedge { get; init; } = true;
        public bool MayRace { get; init; } = true;
        public bool Idempotent { get; init; } = true;
        public Func<Attempt, bool> Abandon { get; init; } = _ => true;

        /// <summary>Called as an attempt starts (e.g. to say its connect is pending).</summary>
        public Action<Attempt>? OnStart { get; init; }

        public Task<AttemptOutcome<string>> RunAsync(Attempt attempt)
        {
            var done = new TaskCompletionSource<AttemptOutcome<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[attempt.Number] = done;
            attempt.Token.Register(() =>
            {
                Cancelled.Enqueue(attempt.Number);
                done.TrySetResult(attempt.LostConnectRace
                    ? new(AttemptResult.LostRace, null, AttemptFailure.NeverSent, null, TimeSpan.Zero, "lost its connect race")
                    : new(AttemptResult.Cancelled, null, AttemptFailure.None, null, TimeSpan.Zero, "cancelled"));
            });
            OnStart?.Invoke(attempt);
            Started.Enqueue(attempt);
            return done.Task;
        }

        public bool MayRetry(AttemptFailure failure) => failure == AttemptFailure.NeverSent || Idempotent;

        public bool TryAbandon(Attempt attempt) => Abandon(attempt);

        public void Discard(string value)
        {
        }

        public Attempt Get(int number) => Started.Single(a => a.Number == number);

        public void Finish(int number, AttemptResult result, RequestOutcome? health, string? value = null, AttemptFailure failure = AttemptFailure.None) =>
            _pending[number].TrySetResult(new(result, value, failure, health, TimeSpan.FromMilliseconds(5), result.ToString()));
    }

    private ServiceCore Core(string yamlUpstreams = "", HedgeOptions? hedge = null, bool relay = true, int retries = 2, bool onlyOneUpstream = false)
    {
        var upstreams = new List<UpstreamOptions>
        {
            new() { Name = "a", Url = new Uri("http://10.250.0.1:80") },
            new() { Name = "b", Url = new Uri("http://10.250.0.2:80"), Tier = 1 },
        };
        if (onlyOneUpstream)
        {
            upstreams.RemoveAt(1);
        }

        var options = new ServiceOptions
        {
            Name = "svc",
            Upstreams = upstreams,
            Relay = relay,
            Hedge = hedge ?? new HedgeOptions(),
            Retry = new RetryOptions { Retries = retries },
            Health = new HealthCheckOptions { Rise = 2, Fall = 2 },
            Passive = new PassiveHealthOptions { Failures = 3 },
        };
        var registry = new HealthRegistry(_time);
        var health = registry.Rebuild([options], out _);
        foreach (var h in health.Values)
        {
            h.ReportProbe(true, TimeSpan.FromMilliseconds(10), "ok");
        }

        return new ServiceCore(options, new NodeOptions { Name = "n1" }, health, (u, peer) => registry.Relayed(options, u, peer),
            relay ? _relays : null, new MaintenanceState(_time, "n1"), _metrics, _time, new Random(1));
    }

    private void Peer(string name, double latency = 10) =>
        _relays.Candidates.Add(new RelayCandidate(name, new Uri($"http://{name}:7400"), true, latency, 0, "ok"));

    private static Task Started(ScriptedRunner runner, int count) =>
        Eventually.TrueAsync(() => runner.Started.Count >= count, $"{count} attempt(s) started", TimeSpan.FromSeconds(5));

    private static AttemptHistory History() => new() { HopsLeft = 1 };

    /// <summary>A runner whose every attempt starts a connect (at time 0) that stays pending until the test says so; no hedges.</summary>
    private static ScriptedRunner Connecting() =>
        new() { MayHedge = false, OnStart = a => a.MarkConnectStarted(a.Path.Peer ?? "10.250.0.1:80", 0) };

    /// <summary>Starts a request whose first connect stays pending past the cold race delay: attempt 2 is its race.</summary>
    private async Task<Task<LoopResult<string>>> RacedAsync(ServiceCore core, ScriptedRunner runner)
    {
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(AttemptLoop.ColdRaceDelay);
        await Started(runner, 2);
        return loop;
    }

    /// <summary>Starts a request whose connect stays pending, on a direct path whose usual time (400 ms) puts the hedge
    /// after the cold race time; 1 ms later.</summary>
    private async Task<(ScriptedRunner Runner, Task<LoopResult<string>> Loop)> ConnectingWithTheHedgeAfterTheRaceAsync(ServiceCore core)
    {
        var direct = new PathKey(0, null);
        for (var i = 0; i < 20; i++)
        {
            core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(400), _time.GetTimestamp());
        }

        var runner = new ScriptedRunner { OnStart = a => a.MarkConnectStarted(a.Path.Peer ?? "10.250.0.1:80", _time.GetTimestamp()) };
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        return (runner, loop);
    }

    /// <summary>The direct path's usual time is 10 ms (answers until now); 100 ms later <paramref name="count"/> requests
    /// start on it and wait.</summary>
    private async Task<(ScriptedRunner[] Runners, List<Task<LoopResult<string>>> Loops)> WaitingOnDirect(ServiceCore core, int count)
    {
        var direct = new PathKey(0, null);
        for (var i = 0; i < 20; i++)
        {
            core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(10), _time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(100));
        var runners = Enumerable.Range(0, count).Select(_ => new ScriptedRunner()).ToArray();
        var loops = runners.Select(r => core.Loop.RunAsync(r, History(), CancellationToken.None)).ToList();
        foreach (var r in runners)
        {
            await Started(r, 1);
            Assert.Equal(direct, r.Get(1).Path.Key);
        }

        return (runners, loops);
    }

    [Fact]
    public async Task AnUnreachedAnswer_IsAFreeAttempt_InAHedgeToo_AndPenalisesThatRelayPath()
    {
        Peer("n2");
        Peer("n3", latency: 20);
        using var core = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) }, retries: 0);
        var runner = new ScriptedRunner();
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        Assert.Equal(new PathKey(0, null), runner.Get(1).Path.Key);

        _time.Advance(TimeSpan.FromMilliseconds(50)); // no answer: hedge, through the cheapest peer
        await Started(runner, 2);
        Assert.Equal((new PathKey(0, "n2"), AttemptKind.Hedge), (runner.Get(2).Path.Key, runner.Get(2).Kind));

        // n2 never reached the upstream: free (retries is 0), and the n2 path is out.
        runner.Finish(2, AttemptResult.Unreached, RequestOutcome.ConnectFailed, failure: AttemptFailure.NeverSent);
        await Started(runner, 3);
        Assert.Equal(new PathKey(0, "n3"), runner.Get(3).Path.Key);
        Assert.Equal(HealthState.Down, core.RelayHealth(0, "n2").State);

        runner.Finish(3, AttemptResult.Success, RequestOutcome.Success, "from n3");
        var result = await loop;
        Assert.Equal(("from n3", new PathKey(0, "n3")), (result.Value, result.ServedBy!.Key));
    }

    [Fact]
    public async Task AFailedRelayedHedge_PenalisesThatRelayPath_AndTheOtherAttemptStillDecides()
    {
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) });
        var runner = new ScriptedRunner();
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        await Started(runner, 2);

        runner.Finish(2, AttemptResult.Failed, RequestOutcome.Broken, failure: AttemptFailure.Broken);
        await Eventually.TrueAsync(() => core.RelayHealth(0, "n2").State == HealthState.Suspect, "the relayed path counts the failure");
        Assert.Equal(2, runner.Started.Count); // the first attempt is still running: no retry beside it

        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct");
        Assert.Equal("direct", (await loop).Value);
    }

    [Fact]
    public async Task HedgesThatWin_WhileTheFirstAttemptsStall_ArePassiveFailuresOfTheStalledPath_WhichIsEjectedAfterAFew()
    {
        // A path goes dark under three requests in flight: each one's hedge through n2 answers while it still waits.
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) });
        var runners = Enumerable.Range(0, 3).Select(_ => new ScriptedRunner()).ToList();
        var loops = runners.Select(r => core.Loop.RunAsync(r, History(), CancellationToken.None)).ToList();
        foreach (var r in runners)
        {
            await Started(r, 1);
            Assert.Equal(new PathKey(0, null), r.Get(1).Path.Key);
        }

        _time.Advance(TimeSpan.FromMilliseconds(50));
        foreach (var r in runners)
        {
            await Started(r, 2);
            Assert.Equal(new PathKey(0, "n2"), r.Get(2).Path.Key);
            r.Finish(2, AttemptResult.Success, RequestOutcome.Success, "relayed");
        }

        Assert.All(await Task.WhenAll(loops), l => Assert.Equal("relayed", l.Value));
        var direct = core.Upstreams[0].Health.Snapshot();
        Assert.Equal(HealthState.Down, direct.State); // passive.failures is 3
        Assert.StartsWith("ejected", direct.Reason, StringComparison.Ordinal);
        Assert.All(runners, r => Assert.Contains(1, r.Cancelled)); // the stalled attempts were closed
    }

    [Fact]
    public async Task ALosingAttempt_IsJudgedOnlyAgainstItsPathsOwnUsualTime_NeverOnAColdStart()
    {
        Peer("n2");
        using var core = Core(); // adaptive hedging: the defaults
        var direct = new PathKey(0, null);

        // Cold: no p95 yet. The hedge after the cold 100 ms wins, but 100 ms says nothing about a path 250 ms away.
        var cold = new ScriptedRunner();
        var first = core.Loop.RunAsync(cold, History(), CancellationToken.None);
        await Started(cold, 1);
        _time.Advance(AttemptLoop.ColdHedgeDelay);
        await Started(cold, 2);
        cold.Finish(2, AttemptResult.Success, RequestOutcome.Success, "relayed");
        Assert.Equal("relayed", (await first).Value);
        Assert.Equal(HealthState.Up, core.Upstreams[0].Health.State);

        // Warm (p95 10 ms): an attempt still waiting past that when another path answers was outpaced, even when the
        // hedge answered 1 ms after it started (a relay on loopback).
        for (var i = 0; i < 20; i++)
        {
            core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(10));
        }

        Assert.Equal(TimeSpan.FromMilliseconds(10), core.Loop.OutpacedAfter(direct));
        var warm = new ScriptedRunner();
        var second = core.Loop.RunAsync(warm, History(), CancellationToken.None);
        await Started(warm, 1);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        await Started(warm, 2);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        warm.Finish(2, AttemptResult.Success, RequestOutcome.Success, "relayed");
        Assert.Equal("relayed", (await second).Value);
        Assert.Equal(HealthState.Suspect, core.Upstreams[0].Health.State);
    }

    [Fact]
    public async Task TheHedgeBudget_CapsHedges_AndALosingHedgeCostsTwice()
    {
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) });
        var started = core.Hedges.Tokens;
        var runner = new ScriptedRunner();
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        await Started(runner, 2);
        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct"); // the hedge lost
        await loop;
        Assert.Equal(started - 2, core.Hedges.Tokens, 3);

        while (core.Hedges.TryTake())
        {
        }

        var denied = new ScriptedRunner();
        var second = core.Loop.RunAsync(denied, History(), CancellationToken.None);
        await Started(denied, 1);
        _time.Advance(TimeSpan.FromSeconds(1));
        denied.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct");
        await second;
        Assert.Single(denied.Started); // no token: no hedge
    }

    [Fact]
    public async Task WithNowhereElseToGo_NoHedgeGoesOut_AndNoHedgeTokenIsSpent()
    {
        // One upstream and no peers: nothing to hedge to, so no timer at all.
        using var alone = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) }, relay: false, onlyOneUpstream: true);
        var runner = new ScriptedRunner();
        var loop = alone.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(TimeSpan.FromSeconds(1));
        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct");
        Assert.Equal("direct", (await loop).Value);
        Assert.Single(runner.Started);
        Assert.Equal(HedgeBudget.Burst, alone.Hedges.Tokens, 3);

        // Two upstreams, the other one down: the hedge time comes, there is nowhere to go, and the budget is untouched.
        using var core = Core(hedge: new HedgeOptions { Delay = TimeSpan.FromMilliseconds(50) }, relay: false);
        core.Upstreams[1].Health.ReportProbe(false, TimeSpan.FromMilliseconds(10), "refused");
        core.Upstreams[1].Health.ReportProbe(false, TimeSpan.FromMilliseconds(10), "refused");
        Assert.Equal(HealthState.Down, core.Upstreams[1].Health.State);
        var second = new ScriptedRunner();
        var waiting = core.Loop.RunAsync(second, History(), CancellationToken.None);
        await Started(second, 1);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        _time.Advance(TimeSpan.FromSeconds(1));
        second.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct");
        Assert.Equal("direct", (await waiting).Value);
        Assert.Single(second.Started);
        Assert.Equal(HedgeBudget.Burst, core.Hedges.Tokens, 3);
    }

    [Fact]
    public async Task ASlowConnect_IsRacedOnTheSameTierOnly_FreeOfTheHedgeBudget_AndTheFirstToAnswerWins()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = Connecting();
        var tokens = core.Hedges.Tokens;
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        _time.Advance(AttemptLoop.ColdRaceDelay); // no connect samples yet: RFC 8305's 250 ms
        await Started(runner, 2);
        Assert.Equal((new PathKey(0, "n2"), AttemptKind.Race, 0), (runner.Get(2).Path.Key, runner.Get(2).Kind, runner.Get(2).Path.Tier));

        _time.Advance(TimeSpan.FromSeconds(2)); // both connects pending: no third attempt in the backup tier
        Assert.Equal(2, runner.Started.Count);
        runner.Finish(2, AttemptResult.Success, RequestOutcome.Success, "raced");
        Assert.Equal("raced", (await loop).Value);
        Assert.Equal(tokens, core.Hedges.Tokens);
        await Eventually.TrueAsync(() => runner.Cancelled.Contains(1), "the slow connect is closed");
    }

    [Theory]
    [InlineData(2, 1)] // the connect started beside it connects first: the slow one is cancelled as it connects
    [InlineData(1, 2)] // the slow connect ends first after all: the one beside it is cancelled as it connects
    public async Task ARacedConnect_TheFirstConnectionWins_AndTheOtherAttemptIsCancelledBeforeItSends(int first, int second)
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = Connecting();
        var loop = await RacedAsync(core, runner);

        Assert.True(runner.Get(first).Connected(_time.GetTimestamp()));
        Assert.False(runner.Get(second).Connected(_time.GetTimestamp()));
        await OnlyTheWinnerSendsAsync(runner, loop, first, second); // the loser was cancelled inside Connected
    }

    /// <summary>The race's loser was cancelled before its request could take a connection; the winner's answer is the
    /// request's, and no third attempt started.</summary>
    private static async Task OnlyTheWinnerSendsAsync(ScriptedRunner runner, Task<LoopResult<string>> loop, int winner, int loser)
    {
        Assert.True(runner.Get(loser).LostConnectRace);
        Assert.Contains(loser, runner.Cancelled);
        Assert.DoesNotContain(winner, runner.Cancelled);
        runner.Finish(winner, AttemptResult.Success, RequestOutcome.Success, "winner");
        Assert.Equal("winner", (await loop).Value);
        Assert.Equal(2, runner.Started.Count);
    }

    [Fact]
    public async Task AConnectWaitingBehindOthersToTheSameEndpointThatSucceeded_IsNotRaced()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var (runner, loop) = await ConnectingWithTheHedgeAfterTheRaceAsync(core);
        core.ConnectWindow("10.250.0.1:80").Add(TimeSpan.FromMilliseconds(1), _time.GetTimestamp()); // a burst: another connect got through
        _time.Advance(AttemptLoop.ColdRaceDelay);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        await Started(runner, 2);
        Assert.NotEqual(AttemptKind.Race, runner.Get(2).Kind); // the first extra attempt is the hedge, at 400 ms
        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "queued");
        Assert.Equal("queued", (await loop).Value);
    }

    [Fact]
    public async Task ARequestSentOnAConnectionThatCameFree_IsNotRaced_ThoughItsOwnConnectIsStillPending()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var (runner, loop) = await ConnectingWithTheHedgeAfterTheRaceAsync(core);
        runner.Get(1).TookConnection(); // the pool gave it a connection another request had finished with
        Assert.False(runner.Get(1).ConnectPending);
        _time.Advance(AttemptLoop.ColdRaceDelay);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        await Started(runner, 2);
        Assert.Equal(AttemptKind.Hedge, runner.Get(2).Kind); // no race at 250 ms: it was sent; the hedge comes at 400 ms
        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "sent once");
        Assert.Equal("sent once", (await loop).Value);
    }

    [Theory]
    [InlineData(true)] // the slow attempt's request takes a connection that came free before the race connects: it wins
    [InlineData(false)] // the race connects first: the slow attempt is cancelled as the pool hands it a connection
    public async Task ASlowConnectsRequestThatTakesAnotherConnection_TakesPartInTheRace_SoOnlyOneOfThemSends(bool slowFirst)
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = Connecting();
        var loop = await RacedAsync(core, runner);

        var (winner, loser) = slowFirst ? (1, 2) : (2, 1);
        if (slowFirst)
        {
            runner.Get(1).TookConnection();
            Assert.False(runner.Get(2).Connected(_time.GetTimestamp()));
            Assert.True(runner.Get(1).Connected(_time.GetTimestamp())); // its own connect ends later and goes to the pool
        }
        else
        {
            Assert.True(runner.Get(2).Connected(_time.GetTimestamp()));
            runner.Get(1).TookConnection();
        }

        await OnlyTheWinnerSendsAsync(runner, loop, winner, loser);
    }

    [Fact]
    public async Task ARaceWinnerThatFailsAfterConnecting_StillGetsItsRetry_WhenTheLoserIsCancelled()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = Connecting();
        var loop = await RacedAsync(core, runner);
        Assert.True(runner.Get(2).Connected(_time.GetTimestamp()));
        runner.Finish(2, AttemptResult.Failed, RequestOutcome.Broken, failure: AttemptFailure.Broken); // defers to attempt 1
        await Eventually.TrueAsync(() => core.RelayHealth(0, "n2").Snapshot().ConsecutiveFailures == 1, "the loop took the winner's failure");
        Assert.False(runner.Get(1).Connected(_time.GetTimestamp())); // the loser is cancelled: it was left to decide
        await Started(runner, 3);
        Assert.Equal(AttemptKind.Retry, runner.Get(3).Kind);
        runner.Finish(3, AttemptResult.Success, RequestOutcome.Success, "retried");
        Assert.Equal("retried", (await loop).Value);
    }

    [Fact]
    public async Task ARaceThatTookAPooledConnection_WinsOverTheSlowConnect_WhichIsCancelledAsItConnects()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        // Only the first attempt connects: the race beside it finds an idle pooled connection and sends at once.
        var runner = new ScriptedRunner { MayHedge = false, OnStart = a => { if (a.Number == 1) a.MarkConnectStarted("10.250.0.1:80", 0); } };
        var loop = await RacedAsync(core, runner);

        Assert.False(runner.Get(1).Connected(_time.GetTimestamp()));
        Assert.Contains(1, runner.Cancelled);
        runner.Finish(2, AttemptResult.Success, RequestOutcome.Success, "pooled");
        Assert.Equal("pooled", (await loop).Value);
    }

    [Fact]
    public async Task ARaceWhoseConnectFailed_LeavesTheSlowConnectToWin()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = Connecting();
        var loop = await RacedAsync(core, runner);

        runner.Get(2).MarkConnectFailed(_time.GetTimestamp()); // its outcome is still on its way to the loop
        Assert.True(runner.Get(1).Connected(_time.GetTimestamp()));
        Assert.DoesNotContain(1, runner.Cancelled);
        runner.Finish(2, AttemptResult.Failed, RequestOutcome.ConnectFailed, failure: AttemptFailure.NeverSent);
        runner.Finish(1, AttemptResult.Success, RequestOutcome.Success, "slow");
        Assert.Equal("slow", (await loop).Value);
    }

    [Fact]
    public async Task APathGoneSilentUnderWaitingRequests_IsEjectedAtAHedgeTime_AndTheyAreRescued_WithoutAHedgeToken()
    {
        Peer("n2");
        using var core = Core(); // the defaults
        var direct = new PathKey(0, null);
        for (var i = 0; i < 20; i++)
        {
            core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(10), _time.GetTimestamp()); // p95 10 ms, last answer now
        }

        while (core.Hedges.TryTake())
        {
        }

        var tokens = core.Hedges.Tokens;
        _time.Advance(TimeSpan.FromMilliseconds(100)); // the path is idle, then goes dark under three requests
        var runners = Enumerable.Range(0, 3).Select(_ => new ScriptedRunner()).ToList();
        var loops = runners.Select(r => core.Loop.RunAsync(r, History(), CancellationToken.None)).ToList();
        foreach (var r in runners)
        {
            await Started(r, 1);
        }

        // Their hedge time: their answers were due just now. An idle path is not a silent one.
        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(HealthState.Up, core.Upstreams[0].Health.State);

        // 100 ms later nothing has come back; at the next request's hedge time the path is judged silent, and all four
        // go elsewhere now (the budget is empty: no hedge could have helped them).
        _time.Advance(TimeSpan.FromMilliseconds(100));
        var fourth = new ScriptedRunner();
        runners.Add(fourth);
        loops.Add(core.Loop.RunAsync(fourth, History(), CancellationToken.None));
        await Started(fourth, 1);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        await Eventually.TrueAsync(() => core.Upstreams[0].Health.State == HealthState.Down, "the silent path is ejected", TimeSpan.FromSeconds(5));
        foreach (var r in runners)
        {
            await Started(r, 2);
            Assert.Equal(AttemptKind.Rescue, r.Get(2).Kind);
            Assert.NotEqual(direct, r.Get(2).Path.Key);
            r.Finish(2, AttemptResult.Success, RequestOutcome.Success, "rescued");
        }

        foreach (var loop in loops)
        {
            Assert.Equal("rescued", (await loop).Value);
        }

        Assert.Equal(tokens, core.Hedges.Tokens, 3);
    }

    /// <summary>
    /// The netns relay test's failure in CI: the direct path blackholed, requests relayed, and under a loaded machine
    /// the relayed paths paused long enough to look silent. Ejecting the last usable one turned 114 of 1,000 requests
    /// into 503s. A silent path with nowhere else to go keeps its requests (they may still be answered), and a node
    /// that was itself stalled (its timer late) judges no path.
    /// </summary>
    [Fact]
    public async Task TheLastUsablePath_IsNotEjectedForSilence_NorAnyPathWhileThisNodeWasStalled()
    {
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { MaxAttempts = 1 }, onlyOneUpstream: true);
        var direct = new PathKey(0, null);
        var choice = new PathChoice(direct, 0, PickReason.Healthy);
        var (three, loops) = await WaitingOnDirect(core, 3);

        _time.Advance(TimeSpan.FromMilliseconds(150)); // silent: three waiting past their usual time, no answer

        // This node's timer ran 80 ms late: the answers may be sitting unread in its own sockets.
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft, lateBy: TimeSpan.FromMilliseconds(80)), "a stalled node judges nothing");

        // The only other path (through n2) is down: the direct path is the last usable one.
        core.RelayHealth(0, "n2").ReportRequest(RequestOutcome.ConnectFailed, TimeSpan.Zero, "refused");
        Assert.Equal(HealthState.Down, core.RelayHealth(0, "n2").State);
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft), "the last usable path");
        Assert.Equal(HealthState.Up, core.Upstreams[0].Health.State);

        // Its answers come after all.
        foreach (var r in three)
        {
            r.Finish(1, AttemptResult.Success, RequestOutcome.Success, "late");
        }

        Assert.All(await Task.WhenAll(loops), result => Assert.Equal("late", result.Value));

        // With n2 usable again, the same silence ejects the direct path.
        _time.Advance(TimeSpan.FromSeconds(30));
        core.RelayHealth(0, "n2").ReportProbe(true, TimeSpan.FromMilliseconds(10), "ok");
        core.RelayHealth(0, "n2").ReportProbe(true, TimeSpan.FromMilliseconds(10), "ok");
        Assert.True(core.RelayHealth(0, "n2").Snapshot().Usable);
        var again = Enumerable.Range(0, 3).Select(_ => new ScriptedRunner()).ToArray();
        var more = again.Select(r => core.Loop.RunAsync(r, History(), CancellationToken.None)).ToList();
        foreach (var r in again)
        {
            await Started(r, 1);
            Assert.Equal(direct, r.Get(1).Path.Key);
        }

        _time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.True(core.Loop.JudgeSilence(choice, History().HopsLeft));
        foreach (var r in again)
        {
            await Started(r, 2);
            r.Finish(2, AttemptResult.Success, RequestOutcome.Success, "rescued");
        }

        Assert.All(await Task.WhenAll(more), result => Assert.Equal("rescued", result.Value));
    }

    /// <summary>
    /// Between a path going dark and its judgement (half its usual time, at least 100 ms) new requests would still be
    /// sent onto it and wait for the rescue. Once it is quiet for a short while under waiting requests, new requests go
    /// through a peer instead; the path is not ejected for that, and its first answer brings requests back.
    /// </summary>
    [Fact]
    public async Task APathQuietUnderWaitingRequests_GetsNoNewOnes_UntilItAnswers_AndIsNotEjectedForThat()
    {
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { MaxAttempts = 1 });
        var direct = new PathKey(0, null);
        var choice = new PathChoice(direct, 0, PickReason.Healthy);
        var (three, loops) = await WaitingOnDirect(core, 3);

        _time.Advance(TimeSpan.FromMilliseconds(10 + 15)); // due 15 ms ago: not quiet yet
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft));
        Assert.False(core.Upstreams[0].Health.Snapshot().Quiet);

        _time.Advance(TimeSpan.FromMilliseconds(10)); // 25 ms without an answer while three wait past their usual time
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft), "not judged yet");
        Assert.Equal(HealthState.Up, core.Upstreams[0].Health.State);
        Assert.True(core.Upstreams[0].Health.Snapshot().Quiet);
        var next = new ScriptedRunner();
        loops.Add(core.Loop.RunAsync(next, History(), CancellationToken.None));
        await Started(next, 1);
        Assert.Equal(new PathKey(0, "n2"), next.Get(1).Path.Key);
        next.Finish(1, AttemptResult.Success, RequestOutcome.Success, "through n2");

        // The path answers after all: quiet no more, and new requests take it again.
        foreach (var r in three)
        {
            r.Finish(1, AttemptResult.Success, RequestOutcome.Success, "late");
        }

        await Task.WhenAll(loops);
        Assert.False(core.Upstreams[0].Health.Snapshot().Quiet);
        var after = new ScriptedRunner();
        var last = core.Loop.RunAsync(after, History(), CancellationToken.None);
        await Started(after, 1);
        Assert.Equal(direct, after.Get(1).Path.Key);
        after.Finish(1, AttemptResult.Success, RequestOutcome.Success, "direct");
        Assert.Equal("direct", (await last).Value);
    }

    [Fact]
    public async Task TwoWaitingRequests_OrAnAnswerAMomentAgo_AreNotSilence()
    {
        Peer("n2");
        using var core = Core(hedge: new HedgeOptions { MaxAttempts = 1 }); // no hedges: only silence could move them
        var direct = new PathKey(0, null);
        var choice = new PathChoice(direct, 0, PickReason.Healthy);
        for (var i = 0; i < 20; i++)
        {
            core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(10), _time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(100));
        var two = Enumerable.Range(0, 2).Select(_ => new ScriptedRunner()).ToArray();
        var loops = two.Select(r => core.Loop.RunAsync(r, History(), CancellationToken.None)).ToList();
        foreach (var r in two)
        {
            await Started(r, 1);
        }

        _time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft), "two waiting requests are not enough");

        // A third waits too, but the path answered 50 ms ago: it is slow, not dark.
        core.FirstByteWindow(direct).Add(TimeSpan.FromMilliseconds(60), _time.GetTimestamp() - (long)(0.05 * _time.TimestampFrequency));
        var third = new ScriptedRunner();
        loops.Add(core.Loop.RunAsync(third, History(), CancellationToken.None));
        await Started(third, 1);
        _time.Advance(TimeSpan.FromMilliseconds(20));
        Assert.False(core.Loop.JudgeSilence(choice, History().HopsLeft), "an answer 70 ms ago");
        Assert.Equal(HealthState.Up, core.Upstreams[0].Health.State);

        // Nothing more for 30 ms: 100 ms of silence with three waiting past their usual time.
        _time.Advance(TimeSpan.FromMilliseconds(30));
        Assert.True(core.Loop.JudgeSilence(choice, History().HopsLeft));
        Assert.Equal(HealthState.Down, core.Upstreams[0].Health.State);
        foreach (var r in two.Append(third))
        {
            await Started(r, 2); // rescued through n2
            r.Finish(2, AttemptResult.Success, RequestOutcome.Success, "rescued");
        }

        Assert.All(await Task.WhenAll(loops), result => Assert.Equal("rescued", result.Value));
    }

    [Fact]
    public async Task AWaitingAttempt_IsStartedAgainElsewhere_WhenItsPathIsJudgedDown()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var runner = new ScriptedRunner { MayHedge = false };
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);

        // Probes judge the direct path down (fall 2) while the attempt waits: it goes through n2 at once.
        core.Upstreams[0].Health.ReportProbe(false, TimeSpan.Zero, "timeout");
        core.Upstreams[0].Health.ReportProbe(false, TimeSpan.Zero, "timeout");
        await Started(runner, 2);
        Assert.Equal((new PathKey(0, "n2"), AttemptKind.Rescue), (runner.Get(2).Path.Key, runner.Get(2).Kind));
        Assert.True(runner.Get(1).Abandoned);
        runner.Finish(2, AttemptResult.Success, RequestOutcome.Success, "rescued");
        Assert.Equal("rescued", (await loop).Value);
    }

    [Fact]
    public async Task ARequestThatMayNotBeSentAgain_IsNeverRescuedOrRetried_OnceItMayHaveBeenSent()
    {
        Peer("n2");
        using var core = Core(hedge: null);
        var gate = new SendGate();
        var runner = new ScriptedRunner { MayHedge = false, Idempotent = false, Abandon = a => gate.TryAbandon(a.Number) };
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        Assert.True(gate.TryClaim(1)); // the POST's body went out on attempt 1

        core.Upstreams[0].Health.ReportProbe(false, TimeSpan.Zero, "timeout");
        core.Upstreams[0].Health.ReportProbe(false, TimeSpan.Zero, "timeout");
        runner.Finish(1, AttemptResult.Failed, RequestOutcome.Timeout, failure: AttemptFailure.Timeout);
        var result = await loop;
        Assert.Null(result.Value);
        Assert.Single(runner.Started); // not rescued, not retried: it may have reached the upstream
        Assert.False(result.NeverReachedUpstream);
    }

    [Fact]
    public async Task ARefusedConnect_IsRetriedForFree_EvenWithNoRetriesLeft()
    {
        using var core = Core(hedge: null, relay: false, retries: 0);
        var runner = new ScriptedRunner { MayHedge = false, Idempotent = false };
        var loop = core.Loop.RunAsync(runner, History(), CancellationToken.None);
        await Started(runner, 1);
        runner.Finish(1, AttemptResult.Failed, RequestOutcome.ConnectFailed, failure: AttemptFailure.NeverSent);
        await Started(runner, 2);
        Assert.Equal(1, runner.Get(2).Path.Upstream); // a ejected at once; the backup tier next
        runner.Finish(2, AttemptResult.Success, RequestOutcome.Success, "backup");
        Assert.Equal("backup", (await loop).Value);
    }

    public void Dispose() => _metrics.Dispose();
}
