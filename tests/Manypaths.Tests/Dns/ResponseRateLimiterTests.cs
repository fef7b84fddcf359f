using System.Net;
using Manypaths.Dns;

namespace Manypaths.Tests.Dns;

/// <summary>Response rate limiting per client prefix, with virtual time.</summary>
public sealed class ResponseRateLimiterTests
{
    private static int Count(ResponseRateLimiter limiter, string address, int n, RateDecision what)
    {
        var ip = IPAddress.Parse(address);
        return Enumerable.Range(0, n).Count(_ => limiter.Decide(ip) == what);
    }

    [Fact]
    public void APrefixGetsItsBurst_ThenHalfIsSlippedHalfDropped_AndTheRateRefills()
    {
        var time = new FakeTimeProvider();
        var limiter = new ResponseRateLimiter(time, perSecond: 100, slipEvery: 2);
        Assert.Equal(200, Count(limiter, "192.0.2.7", 200, RateDecision.Send)); // the burst: twice the rate
        var over = Enumerable.Range(0, 10).Select(_ => limiter.Decide(IPAddress.Parse("192.0.2.8"))).ToList(); // same /24
        Assert.Equal(5, over.Count(d => d == RateDecision.Slip));
        Assert.Equal(5, over.Count(d => d == RateDecision.Drop));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(100, Count(limiter, "192.0.2.9", 100, RateDecision.Send));
        Assert.NotEqual(RateDecision.Send, limiter.Decide(IPAddress.Parse("192.0.2.9")));
    }

    [Fact]
    public void OtherPrefixes_AndLoopback_AreNotHeldBackByAFlood()
    {
        var limiter = new ResponseRateLimiter(new FakeTimeProvider(), perSecond: 10);
        Count(limiter, "198.51.100.1", 1000, RateDecision.Send);
        Assert.Equal(RateDecision.Send, limiter.Decide(IPAddress.Parse("198.51.101.1")));
        Assert.Equal(20, Count(limiter, "127.0.0.1", 20, RateDecision.Send));
        Assert.Equal(20, Count(limiter, "::1", 20, RateDecision.Send));
    }

    [Fact]
    public void IPv6ClientsShareABucketPer56()
    {
        var limiter = new ResponseRateLimiter(new FakeTimeProvider(), perSecond: 10);
        Assert.Equal(20, Count(limiter, "2001:db8:0:ab01::1", 20, RateDecision.Send));
        Assert.NotEqual(RateDecision.Send, limiter.Decide(IPAddress.Parse("2001:db8:0:ab7f::2"))); // the same /56
        Assert.Equal(RateDecision.Send, limiter.Decide(IPAddress.Parse("2001:db8:0:ac00::1"))); // another /56
    }
}
