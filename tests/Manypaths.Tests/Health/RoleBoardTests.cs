using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Health.Roles;

namespace Manypaths.Tests.Health;

/// <summary>
/// The one place that decides whether an upstream of a role-checked service is fit: fed what each upstream said, in
/// virtual time, as the role probes would (one check of each upstream per interval).
/// </summary>
public sealed class RoleBoardTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FreshFor = TimeSpan.FromSeconds(1);
    private const long MaxLag = 1000;

    private static readonly (string Name, string Address)[] Upstreams =
        [("a", "10.250.0.1:6379"), ("b", "10.250.0.2:6379"), ("c", "10.250.0.3:6379")];

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private RoleBoard Board(HealthCheckKind kind, long? maxLag = null) => new(kind, maxLag, Upstreams, _time, FreshFor);

    private static RoleReport Primary(string history = "h1", long? position = null, long? timeline = null) =>
        new(ServerRole.Primary, history, position, timeline);

    private static RoleReport Replica(string history = "h1", long? position = null, bool linkUp = true) =>
        new(ServerRole.Replica, history, position, LinkUp: linkUp, Follows: "10.250.0.1:6379");

    /// <summary>One check of each named upstream, then the interval passes.</summary>
    private ProbeResult[] Round(RoleBoard board, params (int Upstream, RoleReport Report)[] checks)
    {
        var results = checks.Select(c => board.Judge(c.Upstream, c.Report)).ToArray();
        _time.Advance(Interval);
        return results;
    }

    // ---- primary checks ----

    [Fact]
    public void ASinglePrimary_IsFit_AndNoSplitIsReported()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        for (var i = 0; i < 3; i++)
        {
            var results = Round(board, (0, Primary()), (1, Replica()), (2, Replica()));
            Assert.True(results[0].Ok);
        }

        Assert.Equal((ServerRole.Primary, true), (board.Verdict(0)!.Role, board.Verdict(0)!.Fit));
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void AReplica_IsUnfitForAPrimaryService_AndTheAnswerIsDefinitive()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        board.Judge(0, Primary());
        var result = board.Judge(1, Replica());

        Assert.False(result.Ok);
        Assert.True(result.Definitive); // down at once, not after 'fall' checks
        Assert.Contains("replica of 10.250.0.1:6379", result.Detail, StringComparison.Ordinal);
        Assert.Equal((ServerRole.Replica, false), (board.Verdict(1)!.Role, board.Verdict(1)!.Fit));
        Assert.Null(board.Verdict(2)); // never answered
    }

    [Fact]
    public void TwoPrimariesWithoutATieBreak_NeitherIsFit_AndTheSplitIsReported_UntilOneSaysReplica()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        var changes = new List<string?>();
        board.SplitBrainChanged += changes.Add;
        Round(board, (0, Primary()), (1, Replica()), (2, Replica()));

        // b is promoted while a still says primary (a partition): once each was checked beside the other, neither is fit.
        Round(board, (0, Primary()), (1, Primary()), (2, Replica()));
        var results = Round(board, (0, Primary()), (1, Primary()), (2, Replica()));

        Assert.All(results[..2], r => Assert.False(r.Ok));
        Assert.All(results[..2], r => Assert.True(r.Definitive));
        Assert.False(board.Verdict(0)!.Fit);
        Assert.False(board.Verdict(1)!.Fit);
        Assert.NotNull(board.SplitBrain);
        Assert.Contains("a and b", board.SplitBrain, StringComparison.Ordinal);
        Assert.Equal([board.SplitBrain], changes);

        // a is demoted: the split is over at once, and b is fit at its next check.
        board.Judge(0, Replica());
        Assert.Null(board.SplitBrain);
        Assert.Equal([changes[0], null], changes);
        Assert.True(board.Judge(1, Primary()).Ok);
        Assert.True(board.Verdict(1)!.Fit);
        Assert.Equal(2, changes.Count);
    }

    [Fact]
    public void TheSentinelsMajority_PicksOneOfTwoPrimaries_AndTheOtherIsDefinitivelyUnfit()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        var changes = new List<string?>();
        board.SplitBrainChanged += changes.Add;
        board.SentinelsSay("10.250.0.2:6379");
        Round(board, (0, Primary()), (1, Primary()), (2, Replica()));
        var results = Round(board, (0, Primary()), (1, Primary()), (2, Replica()));

        Assert.False(results[0].Ok);
        Assert.True(results[0].Definitive);
        Assert.Contains("10.250.0.2:6379", results[0].Detail, StringComparison.Ordinal);
        Assert.True(results[1].Ok);
        Assert.True(board.Verdict(1)!.Fit);
        Assert.Null(board.SplitBrain);
        Assert.Empty(changes);
    }

    [Fact]
    public void AStaleSentinelAnswer_NoLongerPicksAPrimary_AndTheSplitIsReported()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        board.SentinelsSay("10.250.0.2:6379");
        Round(board, (0, Primary()), (1, Primary()));
        Assert.True(Round(board, (0, Primary()), (1, Primary()))[1].Ok);

        // The sentinels stop answering (no new word), and the last word grows older than freshFor.
        ProbeResult[] results = [];
        while (_time.GetUtcNow() - _time.Start <= FreshFor + Interval)
        {
            results = Round(board, (0, Primary()), (1, Primary()));
        }

        Assert.False(results[0].Ok);
        Assert.False(results[1].Ok);
        Assert.NotNull(board.SplitBrain);

        // A fresh majority picks again.
        board.SentinelsSay("10.250.0.2:6379");
        results = Round(board, (0, Primary()), (1, Primary()));
        Assert.Equal([false, true], results.Select(r => r.Ok));
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void TheSentinelsWithoutAMajority_BreakNoTie()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        board.SentinelsSay("10.250.0.2:6379");
        board.SentinelsSay(null);
        Round(board, (0, Primary()), (1, Primary()));
        var results = Round(board, (0, Primary()), (1, Primary()));
        Assert.All(results, r => Assert.False(r.Ok));
        Assert.NotNull(board.SplitBrain);
    }

    [Fact]
    public void Postgres_OfTwoPrimaries_TheHigherTimelineWins()
    {
        var board = Board(HealthCheckKind.PostgresPrimary);
        Round(board, (0, Primary(timeline: 3)), (1, Primary(timeline: 4)), (2, Replica()));
        var results = Round(board, (0, Primary(timeline: 3)), (1, Primary(timeline: 4)), (2, Replica()));

        Assert.False(results[0].Ok); // the old primary, not yet told it was replaced
        Assert.True(results[0].Definitive);
        Assert.True(results[1].Ok);
        Assert.True(board.Verdict(1)!.Fit);
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void Postgres_TwoPrimariesOnTheSameTimeline_AreASplit()
    {
        var board = Board(HealthCheckKind.PostgresPrimary);
        Round(board, (0, Primary(timeline: 4)), (1, Primary(timeline: 4)));
        var results = Round(board, (0, Primary(timeline: 4)), (1, Primary(timeline: 4)));

        Assert.All(results, r => Assert.False(r.Ok));
        Assert.NotNull(board.SplitBrain);
    }

    [Fact]
    public void AReportOlderThanFreshFor_NoLongerCountsAsARivalPrimary()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        board.Judge(0, Primary());

        _time.Advance(FreshFor - TimeSpan.FromMilliseconds(1));
        Assert.False(board.Judge(1, Primary()).Ok); // a's word still counts
        Assert.True(board.SaysPrimary(0));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(board.SaysPrimary(0));
        Assert.True(board.Judge(1, Primary()).Ok);
        Assert.True(board.Verdict(1)!.Fit);
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void AnUpstreamThatDoesNotAnswer_IsNoLongerARivalPrimary()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        Round(board, (0, Primary()), (1, Primary()), (2, Replica()));
        Round(board, (0, Primary()), (1, Primary()), (2, Replica()));
        Assert.NotNull(board.SplitBrain);

        board.NoAnswer(0, "timeout after 200 ms");
        var verdict = board.Verdict(0)!;
        Assert.Equal((ServerRole.Unknown, false, "timeout after 200 ms"), (verdict.Role, verdict.Fit, verdict.Why));
        Assert.False(board.SaysPrimary(0));

        Assert.True(board.Judge(1, Primary()).Ok);
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void ASplit_IsNoLongerReported_OnceNeitherPrimaryAnswers()
    {
        var board = Board(HealthCheckKind.RedisPrimary);
        var changes = new List<string?>();
        board.SplitBrainChanged += changes.Add;
        Round(board, (0, Primary()), (1, Primary()));
        Round(board, (0, Primary()), (1, Primary()));
        Assert.NotNull(board.SplitBrain);

        // This node loses its network to both: every check from now on gets no answer. Nobody says primary any more,
        // so status, metrics and the log must not go on reporting two primaries.
        for (var i = 0; i < 8; i++)
        {
            board.NoAnswer(0, "timeout after 200 ms");
            board.NoAnswer(1, "timeout after 200 ms");
            _time.Advance(Interval);
        }

        Assert.False(board.SaysPrimary(0));
        Assert.False(board.SaysPrimary(1));
        Assert.Null(board.SplitBrain);
        Assert.Equal([changes[0], null], changes);
    }

    // ---- replica checks ----

    [Theory]
    [InlineData(HealthCheckKind.RedisReplica)]
    [InlineData(HealthCheckKind.PostgresStandby)]
    public void AReplicaWithItsLinkUp_AndLagWithinMaxLag_IsFit_WithItsLagMeasuredAgainstThePrimary(HealthCheckKind kind)
    {
        var board = Board(kind, MaxLag);
        board.Judge(0, Primary(position: 50_000));
        var result = board.Judge(1, Replica(position: 49_500));

        Assert.True(result.Ok);
        Assert.Contains("500 B behind", result.Detail, StringComparison.Ordinal);
        Assert.Equal((ServerRole.Replica, true, 500L), (board.Verdict(1)!.Role, board.Verdict(1)!.Fit, board.Verdict(1)!.LagBytes));

        // max_lag itself is within max_lag.
        Assert.True(board.Judge(2, Replica(position: 50_000 - MaxLag)).Ok);
    }

    [Fact]
    public void ReplicaLag_IsNeverComputedAcrossHistories()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        board.Judge(0, Primary("h1", position: 5_000_000));

        // Another history's offsets say nothing about this primary's: 4,999,900 bytes apart is not lag.
        var result = board.Judge(1, Replica("h2", position: 100));

        Assert.True(result.Ok);
        Assert.Null(board.Verdict(1)!.LagBytes);
        Assert.DoesNotContain("behind", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ReplicaLag_IsMeasuredOnlyAgainstAFreshPrimaryReport()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        board.Judge(0, Primary(position: 50_000));
        _time.Advance(FreshFor);

        Assert.True(board.Judge(1, Replica(position: 1_000)).Ok);
        Assert.Null(board.Verdict(1)!.LagBytes);
    }

    [Fact]
    public void AReplicaLaggingBeyondMaxLag_IsUnfit()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        board.Judge(0, Primary(position: 50_000));
        var result = board.Judge(1, Replica(position: 48_000));

        Assert.False(result.Ok);
        Assert.True(result.Definitive);
        Assert.Contains("max_lag", result.Detail, StringComparison.Ordinal);
        Assert.Equal((false, 2000L), (board.Verdict(1)!.Fit, board.Verdict(1)!.LagBytes));

        // It catches up: fit again at its next check.
        board.Judge(0, Primary(position: 50_100));
        Assert.True(board.Judge(1, Replica(position: 50_000)).Ok);
    }

    [Fact]
    public void AReplicaWhoseLinkToThePrimaryIsDown_IsUnfit()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        board.Judge(0, Primary(position: 50_000));
        var result = board.Judge(1, Replica(position: 50_000, linkUp: false));

        Assert.False(result.Ok);
        Assert.True(result.Definitive);
        Assert.Contains("link to its primary down", result.Detail, StringComparison.Ordinal);
        Assert.False(board.Verdict(1)!.Fit);
    }

    [Fact]
    public void ThePrimary_IsFitForReads_AsTheFallback_AndIsKnownToSayPrimary()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        var result = board.Judge(0, Primary(position: 50_000));
        board.Judge(1, Replica(position: 50_000));

        Assert.True(result.Ok);
        Assert.True(board.Verdict(0)!.Fit);
        Assert.True(board.SaysPrimary(0)); // the read front end avoids it while a replica is fit
        Assert.False(board.SaysPrimary(1));
        Assert.False(board.SaysPrimary(2)); // never answered
    }

    [Fact]
    public void TwoPrimaries_DoNotStopReads_AndAreNoSplitForAReadService()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        Round(board, (0, Primary()), (1, Primary()), (2, Replica()));
        var results = Round(board, (0, Primary()), (1, Primary()), (2, Replica()));

        Assert.All(results, r => Assert.True(r.Ok));
        Assert.Null(board.SplitBrain);
    }

    [Fact]
    public void AReplicaAheadOfThePrimarysLastReport_HasNoLag_NotANegativeOne()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        board.Judge(0, Primary(position: 50_000));
        var result = board.Judge(1, Replica(position: 50_300)); // the primary wrote more since its check

        Assert.True(result.Ok);
        Assert.Equal(0L, board.Verdict(1)!.LagBytes);
    }

    [Fact]
    public void AServerOfUnknownRole_IsUnfitForReads()
    {
        var board = Board(HealthCheckKind.RedisReplica, MaxLag);
        var result = board.Judge(1, new RoleReport(ServerRole.Unknown, Detail: "role: sentinel"));
        Assert.False(result.Ok);
        Assert.Equal("role: sentinel", result.Detail);
    }
}
