using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

/// <summary>State split into unfragmented datagrams, the freshness gate, and how long peers' views are kept.</summary>
public sealed class HeartbeatStateTests
{
    private readonly PeerSigner _signer = new(["secret-one"]);

    private static List<LinkReport> Links(int n) => Enumerable.Range(0, n).Select(i => new LinkReport($"site-{i:00}", LinkState.Up, 1.5f, 0.01f)).ToList();

    [Fact]
    public void StateChunks_ManyUpstreams_NoDatagramOverTheBudget_EveryEntryOnce_LinkRowWholeInTheFirst()
    {
        var views = Enumerable.Range(0, 2000).Select(i => new RemoteView("control", $"upstream-with-a-long-name-{i:0000}", HealthState.Up, i, 1)).ToList();
        var switches = Enumerable.Range(0, 50).Select(i => new SwitchEntry(SwitchKind.Drain, "control", $"u{i}", true, null, null, i, "blr")).ToList();

        var parts = StateChunks.Encode("blr", 9, 1000, 1_700_000_000_000, Links(19), switches, views, _signer);

        Assert.All(parts, p => Assert.InRange(p.Length, 1, StateChunks.Budget));
        var decoded = parts.Select(p => HeartbeatMessage.Decode(p, _signer, out _)!).ToList();
        Assert.All(decoded, m => Assert.Equal((HeartbeatKind.State, 9UL), (m.Kind, m.Seq)));
        Assert.Equal(views, decoded.SelectMany(m => m.Views));
        Assert.Equal(switches, decoded.SelectMany(m => m.Switches));
        Assert.Equal(Links(19), decoded[0].Links);
        Assert.All(decoded.Skip(1), m => Assert.Empty(m.Links));
    }

    [Fact]
    public void StateChunks_AnEntryBiggerThanTheBudget_TravelsAlone_AndNothingIsLost()
    {
        var longMessage = new SwitchEntry(SwitchKind.Maintenance, "control", "", true, new string('é', 700), null, 1, "blr"); // 1,400 UTF-8 bytes (longer than the admin API allows)
        var views = new List<RemoteView> { new("control", "u1", HealthState.Up, 1, 1) };

        var parts = StateChunks.Encode("blr", 1, 1000, 0, Links(19), [longMessage], views, _signer);

        var decoded = parts.Select(p => HeartbeatMessage.Decode(p, _signer, out _)!).ToList();
        Assert.Single(parts, p => p.Length > StateChunks.Budget); // that entry alone
        Assert.Equal([longMessage], decoded.SelectMany(m => m.Switches));
        Assert.Equal(views, decoded.SelectMany(m => m.Views));
        Assert.Equal(Links(19), decoded[0].Links);
    }

    [Fact]
    public void StateChunks_NothingToSay_StillOneDatagram()
    {
        var parts = StateChunks.Encode("blr", 1, 1000, 0, [], [], [], _signer);
        Assert.Single(parts);
    }

    [Fact]
    public void Gate_RefusesReplayedStaleAndOutOfWindowHeartbeats_TakesANewBoot()
    {
        var gate = new HeartbeatGate(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        HeartbeatMessage Ping(long boot, ulong seq, TimeSpan age) => new(HeartbeatKind.Ping, "maa", seq, boot, (now - age).ToUnixTimeMilliseconds());

        Assert.Equal(GateVerdict.Taken, gate.TakePing(Ping(10, 5, TimeSpan.Zero), now));
        Assert.Equal(GateVerdict.Stale, gate.TakePing(Ping(10, 5, TimeSpan.Zero), now)); // the same ping replayed
        Assert.Equal(GateVerdict.Stale, gate.TakePing(Ping(10, 4, TimeSpan.Zero), now)); // an older one, reordered or replayed
        Assert.Equal(GateVerdict.Taken, gate.TakePing(Ping(10, 6, TimeSpan.Zero), now));
        Assert.Equal(GateVerdict.OutOfWindow, gate.TakePing(Ping(10, 7, TimeSpan.FromMinutes(1)), now)); // captured a minute ago
        Assert.Equal(GateVerdict.OutOfWindow, gate.TakePing(Ping(10, 8, -TimeSpan.FromMinutes(1)), now)); // from the future
        Assert.Equal(GateVerdict.Taken, gate.TakePing(Ping(11, 1, TimeSpan.Zero), now)); // restarted: a later boot
        Assert.Equal(GateVerdict.Stale, gate.TakePing(Ping(10, 9, TimeSpan.FromSeconds(5)), now)); // the old boot replayed meanwhile
        now += TimeSpan.FromSeconds(2); // boot 11 went quiet, and the peer came back with its clock stepped back
        Assert.Equal(GateVerdict.Taken, gate.TakePing(Ping(9, 1, TimeSpan.Zero), now));

        var state = new HeartbeatMessage(HeartbeatKind.State, "maa", 3, 9, now.ToUnixTimeMilliseconds());
        Assert.Equal(GateVerdict.Taken, gate.TakeState(state, now));
        Assert.Equal(GateVerdict.Taken, gate.TakeState(state, now)); // the second part of the same heartbeat
        Assert.Equal(GateVerdict.Stale, gate.TakeState(state with { Seq = 2 }, now));
    }

    [Fact]
    public void PeerViews_AreKeptThroughAFewLostStateDatagrams_ThenForgotten()
    {
        var time = new FakeTimeProvider();
        var views = new PeerViews(time, TimeSpan.FromSeconds(3));
        views.Merge("maa", [new RemoteView("control", "u1", HealthState.Up, 1, 1), new RemoteView("control", "u2", HealthState.Down, 1, 0)]);
        time.Advance(TimeSpan.FromSeconds(2));
        views.Merge("maa", [new RemoteView("control", "u2", HealthState.Up, 1, 1)]); // a part with u2 only
        Assert.Equal(HealthState.Up, views.Get("maa", "control", "u1")?.State);
        Assert.Equal(HealthState.Up, views.Get("maa", "control", "u2")?.State);

        time.Advance(TimeSpan.FromSeconds(2)); // u1 not reported for 4 s: maa no longer serves it
        Assert.Null(views.Get("maa", "control", "u1"));
        Assert.Equal(HealthState.Up, views.Get("maa", "control", "u2")?.State);
        Assert.Null(views.Get("del", "control", "u2"));
    }
}
