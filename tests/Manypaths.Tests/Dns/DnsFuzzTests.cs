using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net.Dns;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Dns;

/// <summary>
/// A bounded mutation loop against a real node's UDP DNS port: random bytes and mutations of valid queries (flipped,
/// inserted, deleted and truncated bytes, absurd header counts, compression-pointer loops, broken EDNS and ECS, records
/// of every type in the other sections, TSIG). Sent in bursts of 1,000 without reading the replies, pausing only
/// while the node's socket buffer is more than half full (else the kernel, not the node, drops most of each burst);
/// after every burst a valid query must be answered correctly within 2 s, and at the end the node must still answer
/// (the real dig, UDP and TCP). Bounded by count (100,000) and time (60 s).
/// </summary>
[Collection(Heavy.Name)]
public sealed class DnsFuzzTests(ITestOutputHelper output)
{
    private const int Target = 100_000;
    private const int Burst = 1_000;
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task HundredThousandMalformedPackets_TheNodeKeepsAnsweringCorrectly()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var port = Demo.FreePort.Next();
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {a.Url}, dns_address: 192.0.2.1, region: us-east }}",
            "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }");
        yaml += $$"""

            dns:
              listen: 127.0.0.1:{{port}}
              zones:
                example.test:
                  ttl: 20s
                  records:
                    - { name: "@", type: NS, values: [ns1.example.test.] }
                    - { name: ns1, type: A, values: [127.0.0.1] }
                    - { name: fixed, type: A, values: [192.0.2.99] }
                    - { name: txt, type: TXT, values: ["v=1"] }
                    - { name: alias, type: CNAME, values: [www.example.test.] }
                    - { name: www, type: A, policy: failover, service: svc }
                    - { name: near, type: A, policy: latency, service: svc, clients: { 10.250.0.0/16: us-east } }

            """;
        await using var node = await ProxyNode.StartAsync(yaml);
        var server = new IPEndPoint(IPAddress.Loopback, port);
        using var http = new HttpClient();

        // The zone answers before the flood (and so do the probes).
        Assert.Equal(["192.0.2.99"], (await Dig.QueryAsync(port, "fixed.example.test")).Values);
        using var prober = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var probes = new Prober(prober, server);
        await probes.AssertAnsweredAsync("before the flood", strict: true);
        var before = await MetricsAsync(http, node);

        var rng = new Random(20240607);
        var mutator = new Mutator(rng);
        var socket = new ServerSocket(port);
        var dropsBefore = socket.Read()?.Drops ?? 0;
        using var flood = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var buffer = new byte[2048];
        var sent = 0;
        var sendErrors = 0;
        var clock = Stopwatch.StartNew();
        var sending = TimeSpan.Zero;
        var waiting = TimeSpan.Zero;
        while (sent < Target && clock.Elapsed < TimeBound)
        {
            for (var i = 0; i < Burst && sent < Target; i++)
            {
                var t = clock.Elapsed;
                var length = mutator.Next(buffer);
                try
                {
                    flood.Send(buffer.AsSpan(0, length), server);
                }
                catch (SocketException)
                {
                    sendErrors++; // e.g. a port-unreachable reported back: counted, and the probe below decides
                }

                sent++;
                sending += clock.Elapsed - t;
                if (sent % 100 == 0)
                {
                    // Not waiting for answers: only keeping the node's socket buffer from overflowing, so the node sees
                    // (nearly) every packet instead of the kernel dropping most of each burst.
                    waiting += await socket.DrainAsync(ServerSocket.Buffer / 2, ServerSocket.Buffer / 4);
                }
            }

            waiting += await socket.DrainAsync(0, 0); // the burst is read: a lost probe is the node's doing, not the buffer's
            await probes.AssertAnsweredAsync($"after {sent} packets", strict: socket.Readable);
            if (sent % 25_000 == 0)
            {
                var dig = await Dig.QueryAsync(port, "alias.example.test");
                Assert.Equal("NOERROR", dig.Status);
                Assert.Equal(["www.example.test.", "192.0.2.1"], dig.Values);
            }
        }

        var elapsed = clock.Elapsed;

        // The node still answers: the real dig over UDP and TCP, a negative answer, REFUSED, and ECS.
        var fixedA = await Dig.QueryAsync(port, "fixed.example.test");
        Assert.Equal("NOERROR", fixedA.Status);
        Assert.Contains("aa", fixedA.Flags.Split(' '));
        Assert.Equal(["192.0.2.99"], fixedA.Values);
        Assert.Equal(["192.0.2.1"], (await Dig.QueryAsync(port, "www.example.test", "A", "+tcp")).Values);
        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(port, "nope.example.test")).Status);
        Assert.Equal("REFUSED", (await Dig.QueryAsync(port, "example.com")).Status);
        var ecs = await Dig.QueryAsync(port, "near.example.test", "A", "+subnet=10.250.1.0/24");
        Assert.Equal(["192.0.2.1"], ecs.Values);
        Assert.Contains("CLIENT-SUBNET: 10.250.1.0/24/16", ecs.Raw, StringComparison.Ordinal);
        await probes.AssertAnsweredAsync("at the end", strict: true);

        var after = await StableMetricsAsync(http, node);
        var kernelDrops = socket.Read() is { } end ? $"{end.Drops - dropsBefore}" : "unknown";
        var dropped = after.Dropped - before.Dropped;
        var answered = after.Queries - before.Queries;
        output.WriteLine($"[report] dns fuzz: sent {sent} UDP packets in {elapsed.TotalSeconds:0.0} s ({sent / elapsed.TotalSeconds:0} packets/s overall; " +
            $"making and sending them took {sending.TotalSeconds:0.0} s, {sent / Math.Max(sending.TotalSeconds, 0.001):0}/s; {waiting.TotalSeconds:0.0} s waiting for the node to read its socket) with a probe after every {Burst}" +
            $"{(sent < Target ? $"; STOPPED BY THE {TimeBound.TotalSeconds:0} s BOUND before {Target}" : "")}; " +
            $"manypaths_dns_dropped {dropped} (by reason: {after.DroppedByReason}); manypaths_dns_queries {answered} answered during the run; " +
            $"neither answered nor counted dropped ~{sent + probes.Sent - dropped - answered} (kernel drops on the node's socket: {kernelDrops}); send errors {sendErrors}; " +
            $"probes {probes.Sent} sent, {probes.Answered} answered, {probes.Retries} retried after a 2 s timeout, slowest {probes.Slowest.TotalMilliseconds:0} ms");
        output.WriteLine($"[report] dns fuzz: packets by kind: {string.Join(", ", mutator.Counts.OrderBy(k => k.Key.ToString(), StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}");

        Assert.True(dropped > 0, "malformed packets are counted as dropped");
    }

    /// <summary>
    /// "A packet that does not parse is dropped and counted" (docs/design/dns.md). ARSoft parses the first question
    /// already while receiving (DnsMessageIdentification, for matching answers), and a failure there is swallowed
    /// (UdpServerTransport.AcceptConnectionAsync returns null): no ExceptionThrown, so manypaths_dns_dropped never
    /// hears of it. A question name that loops, points past the end or uses an extended label type goes uncounted.
    /// </summary>
    [Fact]
    public async Task OverTheRateLimit_DroppedAreNotAnswered_SlippedAreEmptyTc_TheRestAnswered()
    {
        var local = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address)
            .FirstOrDefault(ip => ip.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(ip));
        if (local is null)
        {
            output.WriteLine("[report] no non-loopback IPv4 address on this machine: rate limiting not exercised");
            return;
        }

        var (node, port) = await StartSmallAsync();
        await using var _ = node;
        using var http = new HttpClient();
        var socket = new ServerSocket(port);
        var server = new IPEndPoint(IPAddress.Loopback, port);
        using var client = new UdpClient(new IPEndPoint(local, 0));
        client.Client.ReceiveBufferSize = 4 << 20;
        const int queries = 1_000; // in well under a second: the burst of 400, then over the limit
        for (var i = 0; i < queries; i++)
        {
            client.Send(Packets.Query((ushort)i, "fixed.example.test", RecordType.A), server);
            if (i % 50 == 0)
            {
                await socket.DrainAsync(0, 0);
            }
        }

        var replies = new Dictionary<string, int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                var reply = DnsMessage.Parse(new ArraySegment<byte>((await client.ReceiveAsync(timeout.Token)).Buffer));
                var kind = reply.IsTruncated ? "slipped (TC)" : $"{reply.ReturnCode}";
                replies[kind] = replies.GetValueOrDefault(kind) + 1;
            }
        }
        catch (OperationCanceledException)
        {
        }

        var text = await http.GetStringAsync(new Uri(node.Admin, "metrics"));
        var limited = text.Split('\n').Where(l => l.StartsWith("manypaths_dns_rate_limited", StringComparison.Ordinal)).ToList();
        output.WriteLine($"[report] dns rate limiting from {local}: {queries} queries, replies: {string.Join(", ", replies.Select(r => $"{r.Key} {r.Value}"))}; {string.Join(", ", limited)}");
        long Limited(string action) => limited.Where(l => l.Contains($"action=\"{action}\"", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        var (dropped, slipped) = (Limited("dropped"), Limited("slipped"));
        Assert.True(dropped > 0 && slipped > 0, "the limit was reached");
        Assert.False(replies.ContainsKey("ServerFailure"), $"{replies.GetValueOrDefault("ServerFailure")} SERVFAIL sent for responses counted as dropped");

        // Every slipped response is an empty TC answer, and only the ones under the limit are answered in full.
        Assert.Equal(slipped, replies.GetValueOrDefault("slipped (TC)"));
        Assert.Equal(queries - dropped - slipped, replies.GetValueOrDefault("NoError"));
    }

    private static async Task<(ProxyNode Node, int Port)> StartSmallAsync()
    {
        var port = Demo.FreePort.Next();
        var (yaml, _) = Yaml.Service("- { name: a, url: http://127.0.0.1:9, dns_address: 192.0.2.1 }");
        yaml += $$"""

            dns:
              listen: 127.0.0.1:{{port}}
              zones:
                example.test:
                  ttl: 20s
                  records:
                    - { name: "@", type: NS, values: [ns1.example.test.] }
                    - { name: fixed, type: A, values: [192.0.2.99] }
                    - { name: www, type: A, policy: failover, service: svc }

            """;
        return (await ProxyNode.StartAsync(yaml), port);
    }

    /// <summary>The node's counters once they stop moving (answers are worked out after the socket is read).</summary>
    private static async Task<NodeMetrics> StableMetricsAsync(HttpClient http, ProxyNode node)
    {
        var last = await MetricsAsync(http, node);
        for (var i = 0; i < 50; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System);
            var now = await MetricsAsync(http, node);
            if (now == last)
            {
                return now;
            }

            last = now;
        }

        return last;
    }

    private sealed record NodeMetrics(long Dropped, long Queries, string DroppedByReason);

    private static async Task<NodeMetrics> MetricsAsync(HttpClient http, ProxyNode node)
    {
        var text = await http.GetStringAsync(new Uri(node.Admin, "metrics"));
        long dropped = 0, queries = 0;
        var reasons = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("manypaths_dns_dropped", StringComparison.Ordinal))
            {
                var value = long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                dropped += value;
                reasons.Add($"{line[..line.LastIndexOf(' ')].Replace("manypaths_dns_dropped_total", "", StringComparison.Ordinal)} {value}");
            }
            else if (line.StartsWith("manypaths_dns_queries", StringComparison.Ordinal))
            {
                queries += long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return new NodeMetrics(dropped, queries, reasons.Count == 0 ? "none" : string.Join(" ", reasons));
    }

    /// <summary>The node's UDP socket as the kernel sees it (/proc/net/udp): bytes queued unread, and packets dropped on a full buffer.</summary>
    private sealed class ServerSocket(int port)
    {
        /// <summary>The receive buffer the node's socket gets (it does not set its own).</summary>
        public static readonly long Buffer = ReadLong("/proc/sys/net/core/rmem_default") ?? 212_992;

        public bool Readable => Read() is not null;

        public (long Queued, long Drops)? Read()
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/net/udp").Skip(1))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 13 || !f[1].EndsWith($":{port:X4}", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var queued = Convert.ToInt64(f[4].Split(':')[1], 16);
                    return (queued, long.Parse(f[^1], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            return null;
        }

        /// <summary>When more than <paramref name="above"/> bytes are queued, waits (at most 5 s) until at most <paramref name="until"/> are.</summary>
        public async Task<TimeSpan> DrainAsync(long above, long until)
        {
            if (Read() is not { } first || first.Queued <= above)
            {
                return TimeSpan.Zero;
            }

            var clock = Stopwatch.StartNew();
            while (Read() is { } now && now.Queued > until && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
            }

            return clock.Elapsed;
        }

        private static long? ReadLong(string path)
        {
            try
            {
                return long.Parse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>Hand-made valid queries on their own socket, each answered within 2 s and checked (a lost one is retried twice).</summary>
    private sealed class Prober(UdpClient client, IPEndPoint server)
    {
        private static readonly (string Name, string Expected)[] Questions = [("fixed.example.test", "192.0.2.99"), ("www.example.test", "192.0.2.1")];
        private ushort _id = 1;

        public int Sent { get; private set; }

        public int Answered { get; private set; }

        public int Retries { get; private set; }

        public TimeSpan Slowest { get; private set; }

        /// <param name="strict">The node's socket queue was empty when the probe was sent: any retry is a failure.</param>
        public async Task AssertAnsweredAsync(string when, bool strict)
        {
            var (name, expected) = Questions[_id % Questions.Length];
            var id = _id++;
            var query = Packets.Query(id, name, RecordType.A);
            var clock = Stopwatch.StartNew();
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (attempt > 0)
                {
                    Retries++;
                }

                await client.SendAsync(query, server);
                Sent++;
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    while (true)
                    {
                        var reply = await client.ReceiveAsync(timeout.Token);
                        var message = DnsMessage.Parse(new ArraySegment<byte>(reply.Buffer));
                        if (message.TransactionID != id)
                        {
                            continue; // a late answer to an earlier attempt
                        }

                        Assert.False(message.IsQuery);
                        Assert.True(message.ReturnCode == ReturnCode.NoError, $"{when}: {name} answered {message.ReturnCode}");
                        Assert.True(message.IsAuthoritiveAnswer, $"{when}: no AA");
                        var record = Assert.IsType<ARecord>(Assert.Single(message.AnswerRecords));
                        Assert.Equal(expected, record.Address.ToString());
                        Assert.Equal(name, record.Name.ToString().TrimEnd('.'));
                        Answered++;
                        Slowest = clock.Elapsed > Slowest ? clock.Elapsed : Slowest;
                        Assert.False(strict && attempt > 0, $"{when}: {name} A was answered only after {attempt} timeouts of 2 s, with the node's socket queue empty");
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }

            Assert.Fail($"{when}: the node did not answer {name} A in 3 tries of 2 s");
        }
    }

    /// <summary>Wire-format queries built by hand: header, QNAME labels, type, class, optionally an OPT record.</summary>
    private static class Packets
    {
        public static byte[] Query(ushort id, string name, RecordType type, ushort @class = 1, byte[]? opt = null, ushort flags = 0)
        {
            var bytes = new List<byte>(64);
            Header(bytes, id, flags, qd: 1, an: 0, ns: 0, ar: (ushort)(opt is null ? 0 : 1));
            Name(bytes, name);
            U16(bytes, (ushort)type);
            U16(bytes, @class);
            if (opt is not null)
            {
                bytes.AddRange(opt);
            }

            return [.. bytes];
        }

        public static void Header(List<byte> bytes, ushort id, ushort flags, ushort qd, ushort an, ushort ns, ushort ar)
        {
            U16(bytes, id);
            U16(bytes, flags);
            U16(bytes, qd);
            U16(bytes, an);
            U16(bytes, ns);
            U16(bytes, ar);
        }

        public static void Name(List<byte> bytes, string name)
        {
            foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                bytes.Add((byte)label.Length);
                bytes.AddRange(Encoding.ASCII.GetBytes(label));
            }

            bytes.Add(0);
        }

        public static void U16(List<byte> bytes, ushort value)
        {
            bytes.Add((byte)(value >> 8));
            bytes.Add((byte)value);
        }

        public static void U32(List<byte> bytes, uint value)
        {
            U16(bytes, (ushort)(value >> 16));
            U16(bytes, (ushort)value);
        }

        /// <summary>An OPT pseudo-record (root name, type 41, class = UDP size, TTL = ext rcode/version/flags) with these options.</summary>
        public static byte[] Opt(ushort udpSize = 1232, byte version = 0, params (ushort Code, byte[] Data)[] options)
        {
            var bytes = new List<byte> { 0 };
            U16(bytes, 41);
            U16(bytes, udpSize);
            U32(bytes, (uint)version << 16);
            U16(bytes, (ushort)options.Sum(o => 4 + o.Data.Length));
            foreach (var (code, data) in options)
            {
                U16(bytes, code);
                U16(bytes, (ushort)data.Length);
                bytes.AddRange(data);
            }

            return [.. bytes];
        }

        /// <summary>ECS option data: family, source prefix, scope prefix, the address's significant bytes.</summary>
        public static byte[] Ecs(ushort family, byte source, byte scope, byte[] address)
        {
            var bytes = new List<byte>();
            U16(bytes, family);
            bytes.Add(source);
            bytes.Add(scope);
            bytes.AddRange(address);
            return [.. bytes];
        }
    }

    private enum Kind
    {
        RandomBytes,
        BitFlips,
        InterestingBytes,
        Insert,
        Delete,
        Truncate,
        HeaderCounts,
        Flags,
        PointerLoop,
        BadLabels,
        BrokenEcs,
        BrokenOpt,
        RecordsInOtherSections,
        Tsig,
        Splice,
        OddButValidQuestion,
    }

    /// <summary>Makes the next packet into a buffer: random bytes or one mutation of a valid query.</summary>
    private sealed class Mutator(Random rng)
    {
        private static readonly string[] Names = ["fixed.example.test", "www.example.test", "near.example.test", "alias.example.test", "txt.example.test",
            "example.test", "nope.example.test", "a.b.c.example.test", "example.com", "ns1.example.test"];

        private static readonly RecordType[] AllTypes = Enum.GetValues<RecordType>();

        private static readonly Kind[] Kinds = Enum.GetValues<Kind>();

        private readonly byte[][] _seeds = BuildSeeds();

        public Dictionary<Kind, int> Counts { get; } = [];

        private static byte[][] BuildSeeds()
        {
            var seeds = new List<byte[]>();
            ushort id = 100;
            foreach (var name in Names)
            {
                seeds.Add(Packets.Query(id++, name, RecordType.A));
                seeds.Add(Packets.Query(id++, name, RecordType.A, opt: Packets.Opt()));
                seeds.Add(Packets.Query(id++, name, RecordType.A, opt: Packets.Opt(options: [(8, Packets.Ecs(1, 24, 0, [10, 250, 1]))]))); // ECS 10.250.1.0/24
            }

            seeds.Add(Packets.Query(id++, "txt.example.test", RecordType.Txt, opt: Packets.Opt(options: [(10, new byte[8]), (3, Array.Empty<byte>())]))); // cookie, NSID
            seeds.Add(Packets.Query(id++, "near.example.test", RecordType.A, opt: Packets.Opt(options: [(8, Packets.Ecs(2, 56, 0, [0x20, 0x01, 0x0d, 0xb8, 0, 0xe0, 1]))]))); // ECS v6
            seeds.Add(Packets.Query(id, "example.test", RecordType.Soa, flags: 0x0100)); // RD set
            return [.. seeds];
        }

        public int Next(Span<byte> buffer)
        {
            var kind = Kinds[rng.Next(Kinds.Length)];
            Counts[kind] = Counts.GetValueOrDefault(kind) + 1;
            var packet = kind == Kind.RandomBytes ? RandomBytes() : Mutate(kind, Seed());
            if (packet.Count >= 2)
            {
                var id = (ushort)rng.Next(65536);
                packet[0] = (byte)(id >> 8);
                packet[1] = (byte)id;
            }

            var length = Math.Min(packet.Count, buffer.Length);
            for (var i = 0; i < length; i++)
            {
                buffer[i] = packet[i];
            }

            return length;
        }

        private List<byte> Seed() => [.. _seeds[rng.Next(_seeds.Length)]];

        private List<byte> RandomBytes()
        {
            var bytes = new byte[rng.Next(0, 601)];
            rng.NextBytes(bytes);
            return [.. bytes];
        }

        private byte[] RandomData(int length)
        {
            var bytes = new byte[length];
            rng.NextBytes(bytes);
            return bytes;
        }

        private List<byte> Mutate(Kind kind, List<byte> p)
        {
            switch (kind)
            {
                case Kind.BitFlips:
                    for (var n = rng.Next(1, 9); n > 0; n--)
                    {
                        p[rng.Next(p.Count)] ^= (byte)(1 << rng.Next(8));
                    }

                    return p;

                case Kind.InterestingBytes:
                    byte[] interesting = [0x00, 0xFF, 0xC0, 0xC1, 0x3F, 0x40, 0x41, 0x7F, 0x80, 0x01];
                    for (var n = rng.Next(1, 5); n > 0; n--)
                    {
                        p[rng.Next(p.Count)] = interesting[rng.Next(interesting.Length)];
                    }

                    return p;

                case Kind.Insert:
                    p.InsertRange(rng.Next(p.Count + 1), RandomData(rng.Next(1, 33)));
                    return p;

                case Kind.Delete:
                    var at = rng.Next(p.Count);
                    p.RemoveRange(at, rng.Next(1, Math.Min(16, p.Count - at) + 1));
                    return p;

                case Kind.Truncate:
                    return p[..rng.Next(p.Count)];

                case Kind.HeaderCounts:
                    ushort[] absurd = [0, 1, 2, 3, 0x7FFF, 0x8000, 0xFFFF];
                    var any = false;
                    while (!any)
                    {
                        for (var field = 0; field < 4; field++)
                        {
                            if (rng.Next(2) == 0)
                            {
                                var value = rng.Next(3) == 0 ? (ushort)rng.Next(65536) : absurd[rng.Next(absurd.Length)];
                                p[4 + (2 * field)] = (byte)(value >> 8);
                                p[5 + (2 * field)] = (byte)value;
                                any = true;
                            }
                        }
                    }

                    return p;

                case Kind.Flags:
                    var flags = (ushort)rng.Next(65536); // any opcode, QR, TC, Z, rcode...
                    p[2] = (byte)(flags >> 8);
                    p[3] = (byte)flags;
                    return p;

                case Kind.PointerLoop:
                    return PointerLoop();

                case Kind.BadLabels:
                    return BadLabels();

                case Kind.BrokenEcs:
                    return BrokenEcs();

                case Kind.BrokenOpt:
                    return BrokenOpt();

                case Kind.RecordsInOtherSections:
                    return Records();

                case Kind.Tsig:
                    return Tsig();

                case Kind.Splice:
                    var other = Seed();
                    var cut = rng.Next(p.Count);
                    return [.. p.Take(cut), .. other.Skip(rng.Next(other.Count))];

                default:
                    return OddQuestion();
            }
        }

        private List<byte> PointerLoop()
        {
            var p = new List<byte>();
            var records = rng.Next(4) == 0;
            Packets.Header(p, 0, 0, qd: 1, an: (ushort)(records ? 1 : 0), ns: 0, ar: 0);
            var chain = new List<byte>();
            switch (rng.Next(7))
            {
                case 0:
                    p.AddRange([0xC0, 0x0C]); // points at itself
                    break;
                case 1:
                    p.AddRange([0x01, (byte)'a', 0xC0, 0x0C]); // a label, then back to the start
                    break;
                case 2:
                    p.AddRange([0xC0, 0x0E, 0xC0, 0x0C]); // two pointers at each other
                    break;
                case 3:
                    p.AddRange([0xC0, 0xFF]); // beyond the end
                    break;
                case 4:
                    p.AddRange([0xFF, 0xFF]); // the largest offset
                    break;
                case 5:
                    p.AddRange([0xC0, 0x00]); // into the header
                    break;
                default:
                    // The name points (forward) at the last of a chain of 150 pointers, each to the one before, ending in
                    // the label "x": more hops than a name may have. The chain follows the question's type and class.
                    const int chainStart = 18;
                    chain.AddRange([0x01, (byte)'x', 0x00]);
                    for (var i = 0; i < 150; i++)
                    {
                        var target = i == 0 ? chainStart : chainStart + 3 + (2 * (i - 1));
                        chain.AddRange([(byte)(0xC0 | (target >> 8)), (byte)target]);
                    }

                    var last = chainStart + 3 + (2 * 149);
                    p.AddRange([(byte)(0xC0 | (last >> 8)), (byte)last]);
                    break;
            }

            Packets.U16(p, 1);
            Packets.U16(p, 1);
            p.AddRange(chain);
            if (records)
            {
                p.AddRange([0xC0, 0x0C]); // the answer's owner: the (looping) question name
                Packets.U16(p, 1);
                Packets.U16(p, 1);
                Packets.U32(p, 60);
                Packets.U16(p, 4);
                p.AddRange([192, 0, 2, 1]);
            }

            return p;
        }

        private List<byte> BadLabels()
        {
            var p = new List<byte>();
            Packets.Header(p, 0, 0, qd: 1, an: 0, ns: 0, ar: 0);
            switch (rng.Next(5))
            {
                case 0: // a name longer than 255 bytes
                    for (var i = 0; i < 6; i++)
                    {
                        p.Add(63);
                        p.AddRange(Enumerable.Repeat((byte)'a', 63));
                    }

                    p.Add(0);
                    break;
                case 1: // 200 one-byte labels (more than 127)
                    for (var i = 0; i < 200; i++)
                    {
                        p.AddRange([1, (byte)'a']);
                    }

                    p.Add(0);
                    break;
                case 2: // an extended label type (0x40-0x7F), or a binary label (0x41) with any bit count
                    p.AddRange([(byte)rng.Next(0x40, 0x80), (byte)rng.Next(256)]);
                    p.AddRange(RandomData(rng.Next(0, 40)));
                    p.Add(0);
                    break;
                case 3: // a label claiming more bytes than follow
                    p.AddRange([0x3F, (byte)'w', (byte)'w']);
                    return p;
                default: // any bytes inside labels: dots, NUL, high bytes, upper case
                    var label = RandomData(rng.Next(1, 64));
                    p.Add((byte)label.Length);
                    p.AddRange(label);
                    Packets.Name(p, "ExAmPlE.TeSt");
                    break;
            }

            Packets.U16(p, 1);
            Packets.U16(p, 1);
            return p;
        }

        private List<byte> BrokenEcs()
        {
            ushort[] families = [0, 1, 2, 3, 0xFFFF];
            var family = families[rng.Next(families.Length)];
            var ecs = Packets.Ecs(family, (byte)rng.Next(256), (byte)rng.Next(256), RandomData(rng.Next(0, 21)));
            var opt = Packets.Opt(options: [(8, ecs)]).ToList();
            if (rng.Next(3) == 0)
            {
                // the option's own length lies
                var len = (ushort)rng.Next(65536);
                opt[13] = (byte)(len >> 8);
                opt[14] = (byte)len;
            }

            return [.. Packets.Query(0, Names[rng.Next(Names.Length)], RecordType.A, opt: [.. opt])];
        }

        private List<byte> BrokenOpt()
        {
            var name = Names[rng.Next(Names.Length)];
            switch (rng.Next(5))
            {
                case 0: // two OPT records
                    var twice = Packets.Query(0, name, RecordType.A, opt: [.. Packets.Opt(), .. Packets.Opt(version: 1)]).ToList();
                    twice[11] = 2;
                    return twice;
                case 1: // EDNS version 1, a UDP size of 0
                    return [.. Packets.Query(0, name, RecordType.A, opt: Packets.Opt(udpSize: 0, version: 1))];
                case 2: // OPT rdlength longer than the packet
                    var longer = Packets.Opt().ToList();
                    longer[9] = 0xFF;
                    longer[10] = 0xF0;
                    return [.. Packets.Query(0, name, RecordType.A, opt: [.. longer])];
                case 3: // many options of random codes and lengths
                    var options = Enumerable.Range(0, rng.Next(1, 20)).Select(_ => ((ushort)rng.Next(0, 20), RandomData(rng.Next(0, 24)))).ToArray();
                    return [.. Packets.Query(0, name, RecordType.A, opt: Packets.Opt(options: options))];
                default: // an OPT record with a non-root owner
                    var owned = new List<byte>();
                    Packets.Name(owned, "x.example.test");
                    owned.AddRange(Packets.Opt().Skip(1));
                    return [.. Packets.Query(0, name, RecordType.A, opt: [.. owned])];
            }
        }

        /// <summary>A valid question, then 1-4 records of any type with random data in the answer, authority and additional sections.</summary>
        private List<byte> Records()
        {
            var p = Packets.Query(0, Names[rng.Next(Names.Length)], RecordType.A).ToList();
            var counts = new ushort[3];
            for (var n = rng.Next(1, 5); n > 0; n--)
            {
                counts[rng.Next(3)]++;
                p.AddRange([0xC0, 0x0C]);
                Packets.U16(p, (ushort)AllTypes[rng.Next(AllTypes.Length)]);
                Packets.U16(p, 1);
                Packets.U32(p, (uint)rng.Next());
                var data = RandomData(rng.Next(0, 64));
                Packets.U16(p, rng.Next(4) == 0 ? (ushort)rng.Next(65536) : (ushort)data.Length);
                p.AddRange(data);
            }

            for (var section = 0; section < 3; section++)
            {
                p[6 + (2 * section)] = (byte)(counts[section] >> 8);
                p[7 + (2 * section)] = (byte)counts[section];
            }

            return p;
        }

        /// <summary>A query signed with an unknown key (or a mangled TSIG record): the server must not choke on validating it.</summary>
        private List<byte> Tsig()
        {
            var p = Packets.Query(0, Names[rng.Next(Names.Length)], RecordType.A).ToList();
            p[11] = 1;
            Packets.Name(p, "key.example.test");
            Packets.U16(p, 250); // TSIG
            Packets.U16(p, 255); // ANY
            Packets.U32(p, 0);
            var rdata = new List<byte>();
            Packets.Name(rdata, rng.Next(2) == 0 ? "hmac-sha256" : "hmac-unknown");
            Packets.U16(rdata, 0);
            Packets.U32(rdata, (uint)rng.Next()); // time signed (48 bits)
            Packets.U16(rdata, 300); // fudge
            var mac = RandomData(rng.Next(0, 40));
            Packets.U16(rdata, rng.Next(4) == 0 ? (ushort)rng.Next(65536) : (ushort)mac.Length);
            rdata.AddRange(mac);
            Packets.U16(rdata, 1); // original id
            Packets.U16(rdata, 0); // error
            Packets.U16(rdata, 0); // other length
            Packets.U16(p, (ushort)rdata.Count);
            p.AddRange(rdata);
            return p;
        }

        /// <summary>Well-formed but unusual: any type, any class, mixed case, two questions, RD/CD set.</summary>
        private List<byte> OddQuestion()
        {
            var name = new string(Names[rng.Next(Names.Length)].Select(c => rng.Next(2) == 0 ? char.ToUpperInvariant(c) : c).ToArray());
            RecordType[] types = [RecordType.A, RecordType.Aaaa, RecordType.Any, RecordType.CName, RecordType.Txt, RecordType.Soa, RecordType.Ns, RecordType.Mx,
                RecordType.Axfr, RecordType.Ixfr, RecordType.Srv, (RecordType)rng.Next(65536)];
            ushort[] classes = [1, 1, 1, 3, 4, 254, 255, (ushort)rng.Next(65536)];
            var flags = (ushort)(rng.Next(2) == 0 ? 0x0100 : 0x0010);
            var p = Packets.Query(0, name, types[rng.Next(types.Length)], classes[rng.Next(classes.Length)], rng.Next(2) == 0 ? Packets.Opt() : null, flags).ToList();
            if (rng.Next(5) == 0)
            {
                // a second question (FORMERR)
                var second = new List<byte>();
                Packets.Name(second, Names[rng.Next(Names.Length)]);
                Packets.U16(second, 1);
                Packets.U16(second, 1);
                var questionEnd = Packets.Query(0, name, RecordType.A).Length;
                p.InsertRange(questionEnd, second);
                p[5] = 2;
            }

            return p;
        }
    }
}
