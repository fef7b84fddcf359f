using Manypaths.Service;
using Microsoft.Extensions.Time.Testing;

namespace Manypaths.Tests.Service;

public sealed class CloseBurstTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void ThreeClosesWithinTheWindow_AreABurst_OnceUntilThreeMore()
    {
        var burst = new CloseBurst(_time);
        Assert.False(burst.Add());
        _time.Advance(CloseBurst.Window / 2);
        Assert.False(burst.Add());
        _time.Advance(CloseBurst.Window / 2);
        Assert.True(burst.Add());
        Assert.False(burst.Add()); // the next burst needs three of its own
        Assert.False(burst.Add());
        Assert.True(burst.Add());
    }

    [Fact]
    public void ClosesSpreadOverTime_KeepAliveRacesSay_AreNoBurst()
    {
        var burst = new CloseBurst(_time);
        for (var i = 0; i < 10; i++)
        {
            Assert.False(burst.Add());
            _time.Advance(CloseBurst.Window * 0.6); // three span more than the window
        }
    }
}
