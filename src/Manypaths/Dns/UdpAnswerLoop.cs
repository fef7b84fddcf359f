using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;

namespace Manypaths.Dns;

/// <summary>
/// The UDP hot path of one DNS listen address: a few threads, each in a blocking receive on the one socket, each
/// answering its datagram in place (no task, connection object or thread hop per packet, which is where ARSoft's
/// server spent the time) and sending from its own buffers. The order of work is what keeps a node safe:
/// <list type="number">
/// <item>a datagram shorter than a header, or one with QR set (a response: answering it could start two servers
///   answering each other forever), is dropped and counted, unanswered;</item>
/// <item>rate limiting per client prefix, before any parsing (a slipped client gets an empty truncated answer);</item>
/// <item>ARSoft parses the query; a packet it cannot parse is dropped and counted;</item>
/// <item>the answer comes from <paramref name="answer"/>, is written by <see cref="WireWriter"/>, and is truncated to
///   the client's size (512 bytes, or its EDNS size) with TC set.</item>
/// </list>
/// An exception while answering one packet drops that packet (counted), never the loop.
/// </summary>
/// <param name="answer">The answer, and whether the same query bytes get the same answer for a while (<see cref="AnswerCache"/>).</param>
/// <param name="generation">The live generation's zones: a cached answer is reused only within the generation that made it.</param>
internal sealed class UdpAnswerLoop(IPEndPoint endpoint, Func<DnsMessage, IPAddress, (DnsMessage Response, bool Reusable)> answer, Func<object?> generation,
    ResponseRateLimiter limiter, Telemetry.ManypathsMetrics metrics, TimeProvider time) : IDisposable
{
    private readonly AnswerCache _cache = new(time);
    private static readonly KeyValuePair<string, object?> Udp = new("transport", "udp");
    /// <summary>The largest datagram read: bigger ones are cut, fail to parse and are counted.</summary>
    private const int MaxDatagram = 65_535;
    private readonly Socket _socket = new(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
    private readonly List<Thread> _threads = [];
    private volatile bool _stopped;

    /// <summary>Binds (throws <see cref="SocketException"/> when the address is taken) and starts the receive threads.</summary>
    public void Start()
    {
        if (endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }

        _socket.ReceiveBufferSize = 4 << 20; // bursts wait in the kernel rather than being lost (capped by net.core.rmem_max)
        _socket.Bind(endpoint);
        for (var i = 0; i < Math.Clamp(Environment.ProcessorCount, 1, 4); i++)
        {
            var thread = new Thread(Receive) { IsBackground = true, Name = $"dns-udp-{i}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    private void Receive()
    {
        var query = new byte[MaxDatagram];
        var reply = new byte[MaxDatagram];
        var writer = new WireWriter();
        var from = new SocketAddress(_socket.AddressFamily);
        var template = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stopped)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(query, SocketFlags.None, from);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (_stopped)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // e.g. a port-unreachable report for an earlier answer: nothing to do with this socket
            }

            var sent = Answer(query, length, from, template, writer, reply);
            if (sent > 0)
            {
                try
                {
                    _socket.SendTo(reply.AsSpan(0, sent), SocketFlags.None, from);
                }
                catch (SocketException)
                {
                    Dropped("send_failed");
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }
    }

    /// <returns>The length of the reply written into <paramref name="reply"/>, or 0 for no reply.</returns>
    private int Answer(byte[] query, int length, SocketAddress from, IPEndPoint template, WireWriter writer, byte[] reply)
    {
        if (length < 12)
        {
            Dropped("short");
            return 0;
        }

        if ((query[2] & 0x80) != 0)
        {
            Dropped("not_a_query");
            return 0;
        }

        var client = Client(((IPEndPoint)template.Create(from)).Address);
        var decision = limiter.Decide(client);
        if (decision == RateDecision.Drop)
        {
            metrics.DnsRateLimited.Add(1, new KeyValuePair<string, object?>("action", "dropped"));
            return 0;
        }

        var book = decision == RateDecision.Send ? generation() : null;
        if (book is not null && _cache.TryAnswer(query.AsSpan(0, length), book, reply, out var cachedRcode) is var cached and > 0)
        {
            metrics.DnsQueries.Add(1, new KeyValuePair<string, object?>("rcode", cachedRcode), Udp);
            return cached;
        }

        DnsMessage message;
        try
        {
            message = DnsMessage.Parse(new ArraySegment<byte>(query, 0, length));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Dropped("malformed");
            return 0;
        }

        try
        {
            DnsMessage response;
            var reusable = false;
            if (decision == RateDecision.Slip)
            {
                metrics.DnsRateLimited.Add(1, new KeyValuePair<string, object?>("action", "slipped"));
                response = message.CreateResponseInstance();
                response.IsTruncated = true; // empty and truncated: a real client asks again over TCP, which is not limited
            }
            else
            {
                (response, reusable) = answer(message, client);
            }

            var limit = message.IsEDnsEnabled && message.EDnsOptions is { } opt ? Math.Clamp((int)opt.UdpPayloadSize, 512, 1232) : 512;
            var written = writer.Write(response, reply, limit);
            if (reusable && book is not null)
            {
                _cache.Add(query.AsSpan(0, length), book, reply.AsSpan(0, written), DnsFrontEnd.RcodeName(response.ReturnCode));
            }

            return written;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Dropped(e.GetType().Name);
            return 0;
        }
    }

    private void Dropped(string reason) => metrics.DnsDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d: rate limits and client networks see it as IPv4.</summary>
    internal static IPAddress Client(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    public void Dispose()
    {
        _stopped = true;
        _socket.Dispose(); // a blocked receive returns with an error, and each thread ends
        foreach (var thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }
}
