using Manypaths.Maintenance;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Maintenance;

public sealed class MaintenanceStateTests
{
    [Fact]
    public void Set_AfterLearningANewerSwitchFromAPeerWhoseClockIsAhead_StillWins()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var state = new MaintenanceState(time, "n1");
        var ahead = time.GetUtcNow().AddSeconds(5).ToUnixTimeMilliseconds();
        state.Merge([new SwitchEntry(SwitchKind.Maintenance, "svc", "", true, "from n2", null, ahead, "n2")]);

        // The operator turns it off here two seconds later by n1's clock: that must win everywhere, not lose to n2's stamp.
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(state.ClearMaintenance("svc", out var off));
        Assert.True(off.Stamp > ahead);
        Assert.Null(state.Maintenance("svc"));

        var peer = new MaintenanceState(time, "n3");
        peer.Merge([new SwitchEntry(SwitchKind.Maintenance, "svc", "", true, "from n2", null, ahead, "n2")]);
        peer.Merge([off]);
        Assert.Null(peer.Maintenance("svc"));
    }
}
