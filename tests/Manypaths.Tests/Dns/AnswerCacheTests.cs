using Manypaths.Dns;
using Microsoft.Extensions.Time.Testing;

namespace Manypaths.Tests.Dns;

/// <summary>The UDP answer cache: the exact query bytes but the ID, one generation, 20 ms; the asker's ID goes back.</summary>
public sealed class AnswerCacheTests
{
    private static readonly byte[] Query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, (byte)'w', (byte)'w', (byte)'w', 0, 0, 1, 0, 1];
    private static readonly byte[] Answer = [0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 3, (byte)'w', (byte)'w', (byte)'w', 0, 0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 20, 0, 4, 192, 0, 2, 1];

    [Fact]
    public void TheSameQueryFromAnotherAsker_GetsTheAnswerWithItsOwnId_WithinTheLifetimeAndGeneration()
    {
        var time = new FakeTimeProvider();
        var cache = new AnswerCache(time);
        var generation = new object();
        cache.Add(Query, generation, Answer, "noerror");

        var other = (byte[])Query.Clone();
        (other[0], other[1]) = (0xAB, 0xCD);
        var reply = new byte[512];
        Assert.Equal(Answer.Length, cache.TryAnswer(other, generation, reply, out var rcode));
        Assert.Equal("noerror", rcode);
        Assert.Equal([0xAB, 0xCD, .. Answer[2..]], reply[..Answer.Length]);

        Assert.Equal(0, cache.TryAnswer(other, new object(), reply, out _)); // another config generation
        var upper = (byte[])Query.Clone();
        upper[13] = (byte)'W';
        Assert.Equal(0, cache.TryAnswer(upper, generation, reply, out _)); // another case: its own answer (0x20)

        time.Advance(AnswerCache.Lifetime + TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, cache.TryAnswer(other, generation, reply, out _)); // stale
    }

    [Fact]
    public void AFloodOfDistinctNames_CannotGrowItPastItsBound()
    {
        var cache = new AnswerCache(new FakeTimeProvider());
        var generation = new object();
        for (var i = 0; i < AnswerCache.MaxEntries + 10; i++)
        {
            var q = (byte[])Query.Clone();
            q[13] = (byte)(i % 256);
            q[14] = (byte)(i / 256 % 256);
            q[15] = (byte)(i / 65536);
            cache.Add(q, generation, Answer, "nxdomain");
        }

        Assert.True(cache.Count <= AnswerCache.MaxEntries);
    }
}
