using System.Collections.Concurrent;

namespace Manypaths.Dns;

/// <summary>
/// Encoded UDP answers to the exact same query bytes (all but the transaction ID: name with its case, type, class,
/// flags, EDNS size and options, client subnet), reused for <see cref="Lifetime"/> within one config generation. Only
/// answers that are the same for every client and every draw go in (<see cref="ZoneBook.Answer(ARSoft.Tools.Net.Dns.DnsMessage, System.Net.IPAddress, System.Text.StringBuilder?, out bool)"/>):
/// static data, failover and negative answers. A hit skips the parse, the two messages ARSoft would build (each
/// with a cryptographically random ID) and the encoder; it costs a copy and two bytes of ID. Bounded: past
/// <see cref="MaxEntries"/> it starts again empty (a flood of random names cannot grow it).
/// </summary>
internal sealed class AnswerCache(TimeProvider time)
{
    /// <summary>Short next to a health change's own detection time, long next to 80k queries a second.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMilliseconds(20);
    public const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<byte[], Entry> _entries = new(Bytes.Comparer);

    private sealed record Entry(object Generation, long Expires, byte[] Answer, string Rcode);

    public int Count => _entries.Count;

    /// <summary>Copies the answer to <paramref name="query"/> (a whole datagram) into <paramref name="reply"/> with the query's ID.</summary>
    /// <returns>The answer's length, or 0 when there is none fresh for this generation.</returns>
    public int TryAnswer(ReadOnlySpan<byte> query, object generation, byte[] reply, out string rcode)
    {
        rcode = "";
        if (!_entries.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(query[2..], out var e)
            || !ReferenceEquals(e.Generation, generation) || time.GetTimestamp() > e.Expires)
        {
            return 0;
        }

        e.Answer.CopyTo(reply, 0);
        reply[0] = query[0];
        reply[1] = query[1];
        rcode = e.Rcode;
        return e.Answer.Length;
    }

    public void Add(ReadOnlySpan<byte> query, object generation, ReadOnlySpan<byte> answer, string rcode)
    {
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        var expires = time.GetTimestamp() + (long)(Lifetime.TotalSeconds * time.TimestampFrequency);
        _entries[query[2..].ToArray()] = new Entry(generation, expires, answer.ToArray(), rcode);
    }

    /// <summary>Byte arrays compared by content, and looked up by a span without copying it.</summary>
    private sealed class Bytes : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly Bytes Comparer = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => Hash(obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        private static int Hash(ReadOnlySpan<byte> bytes)
        {
            var h = new HashCode();
            h.AddBytes(bytes);
            return h.ToHashCode();
        }
    }
}
