using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Manypaths.Dns;

/// <summary>What to do with one UDP response for a client prefix.</summary>
internal enum RateDecision
{
    Send,

    /// <summary>Over the limit: send an empty truncated answer instead (a real client retries over TCP, which is not limited).</summary>
    Slip,

    /// <summary>Over the limit: send nothing.</summary>
    Drop,
}

/// <summary>
/// Response rate limiting per client prefix (IPv4 /24, IPv6 /56), for UDP only: a token bucket per prefix refilled at
/// <see cref="PerSecond"/> with a burst of twice that. Over it, every <see cref="SlipEvery"/>-th response is slipped
/// (an empty TC answer, so a real client behind a busy resolver retries over TCP) and the others dropped, as BIND's
/// RRL does: a spoofed-source flood cannot use the nodes to amplify against a victim. Loopback clients (the node's own
/// resolver, tests, benches) are not limited: they cannot be spoofed from outside. Pure: time from the TimeProvider.
/// </summary>
internal sealed class ResponseRateLimiter(TimeProvider time, int perSecond = ResponseRateLimiter.DefaultPerSecond, int slipEvery = 2)
{
    public const int DefaultPerSecond = 200;
    private const int MaxPrefixes = 100_000;
    private readonly ConcurrentDictionary<(ulong, ulong), Bucket> _buckets = new();
    private int _count;

    public int PerSecond => perSecond;

    public int SlipEvery => slipEvery;

    public RateDecision Decide(IPAddress client)
    {
        if (IPAddress.IsLoopback(client))
        {
            return RateDecision.Send;
        }

        var key = Prefix(client);
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            if (Volatile.Read(ref _count) >= MaxPrefixes)
            {
                Evict(); // a flood of distinct prefixes: forget the idle ones, never the busy ones
            }

            bucket = new Bucket(perSecond * 2.0, time.GetTimestamp());
            if (_buckets.TryAdd(key, bucket))
            {
                Interlocked.Increment(ref _count);
            }
            else
            {
                bucket = _buckets[key];
            }
        }

        return bucket.Take(perSecond, perSecond * 2.0, time) ? RateDecision.Send
            : bucket.NextOver() % slipEvery == 0 ? RateDecision.Slip : RateDecision.Drop;
    }

    /// <summary>Forgets the prefixes whose bucket has refilled (a full bucket is the same as none).</summary>
    private void Evict()
    {
        foreach (var (key, bucket) in _buckets)
        {
            if (bucket.Full(perSecond, perSecond * 2.0, time) && _buckets.TryRemove(key, out _))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    private static (ulong, ulong) Prefix(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        if (address.AddressFamily == AddressFamily.InterNetwork || written == 4)
        {
            return (0, ((ulong)bytes[0] << 16) | ((ulong)bytes[1] << 8) | bytes[2]); // /24
        }

        return (1, System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 8); // /56
    }

    private sealed class Bucket(double tokens, long at)
    {
        private readonly Lock _lock = new();
        private double _tokens = tokens;
        private long _at = at;
        private long _over;

        public bool Take(double rate, double burst, TimeProvider time)
        {
            lock (_lock)
            {
                var now = time.GetTimestamp();
                _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_at, now).TotalSeconds * rate));
                _at = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return true;
                }

                return false;
            }
        }

        public long NextOver() => Interlocked.Increment(ref _over);

        public bool Full(double rate, double burst, TimeProvider time)
        {
            lock (_lock)
            {
                return _tokens + (time.GetElapsedTime(_at).TotalSeconds * rate) >= burst;
            }
        }
    }
}
