using Manypaths.Mesh;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Mesh;

public sealed class PeerLinkTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly MeshOptions _options = new() { Heartbeat = TimeSpan.FromMilliseconds(100), DeadAfter = TimeSpan.FromSeconds(1), Window = 20 };

    [Fact]
    public void Loss_IsTheUnansweredShareOfSettledPings_AndRttIsMeasured()
    {
        var link = new PeerLink(_options, _time);
        for (ulong seq = 1; seq <= 20; seq++)
        {
            link.PingSent(seq);
            _time.Advance(TimeSpan.FromMilliseconds(5));
            if (seq % 4 != 0)
            {
                link.PongReceived(seq);
            }

            _time.Advance(TimeSpan.FromMilliseconds(95));
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        var s = link.Snapshot();
        Assert.Equal(0.25, s.Loss, 3);
        Assert.Equal(5, s.RttMs, 1);
        Assert.Equal(LinkState.Down, s.State); // nothing heard for longer than dead_after
    }

    [Fact]
    public void PingsBeforeThePeerFirstAnswered_AreNotLoss()
    {
        var link = new PeerLink(_options, _time);
        for (ulong seq = 1; seq <= 10; seq++)
        {
            link.PingSent(seq);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        for (ulong seq = 11; seq <= 20; seq++)
        {
            link.PingSent(seq);
            link.PongReceived(seq);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, link.Snapshot().Loss);
    }

    [Fact]
    public void StalePong_ForAnOverwrittenSlot_IsIgnored()
    {
        var link = new PeerLink(_options with { Window = 4 }, _time);
        link.PingSent(1);
        link.PongReceived(1);
        link.PingSent(5); // reuses the slot of 1
        link.PongReceived(1); // a late duplicate of the old pong must not acknowledge ping 5
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, link.Snapshot().Loss);
    }
}
