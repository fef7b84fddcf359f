using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.Dns;

/// <summary>A real node answering DNS, asked by the real `dig`; real Kestrel upstreams behind health-aware records.</summary>
public sealed class DnsTests(ITestOutputHelper output)
{
    private static async Task<(ProxyNode Node, int Port)> StartAsync(string upstreams, string records, string service = "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }", string host = "127.0.0.1")
    {
        var dns = Demo.FreePort.Next();
        var (yaml, _) = Yaml.Service(upstreams, service);
        yaml += $"""

            dns:
              listen: "{host}:{dns}"
              zones:
                example.test:
                  ttl: 20s
                  records:
                    - {"{"} name: "@", type: NS, values: [ns1.example.test., ns2.example.test.] {"}"}
                    - {"{"} name: ns1, type: A, values: [127.0.0.1] {"}"}
            {string.Join("\n", records.Split('\n').Select(l => "        " + l.Trim()))}

            """;
        return (await ProxyNode.StartAsync(yaml), dns);
    }

    [Fact]
    public async Task StaticZone_IsAnsweredAuthoritatively_WithNxdomainNodataAndRefusedWhereTheyBelong()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (node, port) = await StartAsync($"- {{ name: a, url: {a.Url} }}", "- { name: fixed, type: TXT, values: [\"v=1\"] }\n- { name: deep.below, type: TXT, values: [\"x\"] }\n- { name: mail, type: MX, values: [\"10 mx.example.test.\"] }\n- { name: \"*.dev\", type: A, values: [192.0.2.77] }");
        await using var _ = node;

        var txt = await Dig.QueryAsync(port, "fixed.example.test", "TXT");
        Assert.Equal("NOERROR", txt.Status);
        Assert.Contains("aa", txt.Flags.Split(' '));
        Assert.Equal("\"v=1\"", Assert.Single(txt.Values));

        var nx = await Dig.QueryAsync(port, "nope.example.test");
        Assert.Equal("NXDOMAIN", nx.Status);
        Assert.Contains("SOA", Assert.Single(nx.Authority), StringComparison.Ordinal);
        Assert.Contains("\t20\t", nx.Authority[0], StringComparison.Ordinal); // negative TTL: the SOA minimum (the zone ttl)

        var nodata = await Dig.QueryAsync(port, "fixed.example.test", "A");
        Assert.Equal("NOERROR", nodata.Status);
        Assert.Empty(nodata.Records);
        Assert.Contains("SOA", Assert.Single(nodata.Authority), StringComparison.Ordinal);

        var emptyNonTerminal = await Dig.QueryAsync(port, "below.example.test", "TXT");
        Assert.Equal("NOERROR", emptyNonTerminal.Status); // names exist below it: NODATA, not NXDOMAIN
        Assert.Empty(emptyNonTerminal.Records);

        var foreign = await Dig.QueryAsync(port, "example.com");
        Assert.Equal("REFUSED", foreign.Status);
        Assert.DoesNotContain("aa", foreign.Flags.Split(' '));

        var any = await Dig.QueryAsync(port, "example.test", "ANY");
        Assert.Equal("NOERROR", any.Status);
        Assert.Single(any.Records.Select(r => r.Split('\t', ' ').Where(p => p.Length > 0).ElementAt(3)).Distinct()); // one RRset (RFC 8482)

        var soa = await Dig.QueryAsync(port, "example.test", "SOA");
        Assert.Contains("ns1.example.test. hostmaster.example.test. 1 ", Assert.Single(soa.Records), StringComparison.Ordinal);

        var tcp = await Dig.QueryAsync(port, "mail.example.test", "MX", "+tcp");
        Assert.Equal("mx.example.test.", Assert.Single(tcp.Values));

        // A wildcard (RFC 4592) answers any name below 'dev', owned by the name asked; 'dev' itself is NODATA.
        var wild = await Dig.QueryAsync(port, "build-7.dev.example.test");
        Assert.Equal("NOERROR", wild.Status);
        Assert.StartsWith("build-7.dev.example.test.", Assert.Single(wild.Records), StringComparison.Ordinal);
        Assert.Equal(["192.0.2.77"], wild.Values);
        var dev = await Dig.QueryAsync(port, "dev.example.test");
        Assert.Equal("NOERROR", dev.Status);
        Assert.Empty(dev.Records);
    }

    [Fact]
    public async Task OverIpv6_UdpAndTcp_AreAnswered_IncludingAHealthAwareAaaa()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (node, port) = await StartAsync($"- {{ name: a, url: {a.Url}, dns_address: \"2001:db8::a\" }}",
            "- { name: six, type: AAAA, policy: failover, service: svc }\n- { name: fixed, type: TXT, values: [\"v=6\"] }", host: "[::1]");
        await using var _ = node;
        var udp = await Dig.QueryAsync(port, "six.example.test", "AAAA", server: "::1");
        Assert.Equal("NOERROR", udp.Status);
        Assert.Contains("aa", udp.Flags.Split(' '));
        Assert.Equal(["2001:db8::a"], udp.Values);
        var tcp = await Dig.QueryAsync(port, "fixed.example.test", "TXT", "+tcp", server: "::1");
        Assert.Equal("\"v=6\"", Assert.Single(tcp.Values));
    }

    [Fact]
    public async Task AResponseSentToANode_GetsNoAnswer_SoTwoServersCannotAnswerEachOtherForever()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var (node, port) = await StartAsync($"- {{ name: a, url: {a.Url} }}", "- { name: fixed, type: TXT, values: [\"v=1\"] }");
        await using var _ = node;
        using var udp = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        byte[] Packet(ushort id, bool response) =>
            [(byte)(id >> 8), (byte)id, response ? (byte)0x80 : (byte)0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
             5, (byte)'f', (byte)'i', (byte)'x', (byte)'e', (byte)'d', 7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 4, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0, 0, 16, 0, 1];
        var target = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port);
        await udp.SendAsync(Packet(0x1111, response: true), target);
        await udp.SendAsync(Packet(0x2222, response: false), target);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reply = await udp.ReceiveAsync(cts.Token);
        Assert.Equal(0x2222, (reply.Buffer[0] << 8) | reply.Buffer[1]); // the query's answer is the first (and only) reply
        using var http = new HttpClient();
        await Eventually.TrueAsync(async () => (await http.GetStringAsync(new Uri(node.Admin, "metrics"))).Contains("manypaths_dns_dropped_total{reason=\"not_a_query\"} 1", StringComparison.Ordinal),
            "the response packet is counted as dropped");
    }

    [Fact]
    public async Task QueriesWithoutEdns_AreAnsweredWithTheirOwnIdCaseAndRd_AndFollowHealth()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (node, port) = await StartAsync(
            $"- {{ name: a, url: {a.Url}, dns_address: 192.0.2.1 }}\n- {{ name: b, url: {b.Url}, dns_address: 192.0.2.2, tier: backup }}",
            "- { name: www, type: A, policy: failover, service: svc }\n- { name: fixed, type: TXT, values: [\"v=1\"] }");
        await using var _ = node;
        var core = node.Host.Generation!.Services["svc"];
        await Eventually.TrueAsync(() => core.Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both up");
        foreach (var spelling in (string[])["fixed.example.test", "FiXeD.ExAmPlE.TeSt", "fixed.example.test"])
        {
            var txt = await Dig.QueryAsync(port, spelling, "TXT", "+noedns +rec");
            Assert.Equal("\"v=1\"", Assert.Single(txt.Values));
            Assert.DoesNotContain("mismatch", txt.Raw, StringComparison.OrdinalIgnoreCase); // ID and question echoed as asked
            Assert.Contains("rd", txt.Flags.Split(' ')); // RD echoed
        }

        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(port, "nope.example.test", "A", "+noedns")).Status);
        Assert.Equal("NXDOMAIN", (await Dig.QueryAsync(port, "nope.example.test", "A", "+noedns")).Status);
        Assert.Equal(["192.0.2.1"], (await Dig.QueryAsync(port, "www.example.test", "A", "+noedns")).Values);
        a.HealthOk = false;
        await Eventually.TrueAsync(async () => (await Dig.QueryAsync(port, "www.example.test", "A", "+noedns")).Values.SequenceEqual(["192.0.2.2"]), "the failover answer follows health");
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(node.Admin, "metrics"));
        Assert.Contains("manypaths_dns_queries_total{rcode=\"noerror\",transport=\"udp\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failover_AnswersTheBackupOnceThePrimaryIsDown_AndThePrimaryAgainWhenItIsBack()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (node, port) = await StartAsync(
            $"- {{ name: a, url: {a.Url}, dns_address: 192.0.2.1 }}\n- {{ name: b, url: {b.Url}, dns_address: 192.0.2.2, tier: backup }}",
            "- { name: www, type: A, policy: failover, service: svc }\n- { name: all, type: A, policy: multivalue, service: svc }");
        await using var _ = node;
        var core = node.Host.Generation!.Services["svc"];
        await Eventually.TrueAsync(() => core.Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both up");
        Assert.Equal(["192.0.2.1"], (await Dig.QueryAsync(port, "www.example.test")).Values);
        Assert.Equal(["192.0.2.1", "192.0.2.2"], (await Dig.QueryAsync(port, "all.example.test")).Values.Order().ToList());

        a.HealthOk = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(async () => (await Dig.QueryAsync(port, "www.example.test")).Values.SequenceEqual(["192.0.2.2"]), "failover answers the backup");
        var failedOver = clock.Elapsed;
        Assert.Equal(["192.0.2.2"], (await Dig.QueryAsync(port, "all.example.test")).Values);
        output.WriteLine($"[report] dns failover: the answer moved to the backup {failedOver.TotalMilliseconds:0} ms after the primary's health check started failing (interval 300 ms, fall 2, timeout 200 ms)");
        Assert.True(failedOver < TimeSpan.FromSeconds(2), $"{failedOver.TotalMilliseconds:0} ms");

        b.HealthOk = false; // nothing healthy: every endpoint counts (Route 53's rule), so failover answers the primary tier
        await Eventually.TrueAsync(() => core.Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Down), "both down");
        Assert.Equal(["192.0.2.1"], (await Dig.QueryAsync(port, "www.example.test")).Values);

        a.HealthOk = true;
        await Eventually.TrueAsync(async () => (await Dig.QueryAsync(port, "www.example.test")).Values.SequenceEqual(["192.0.2.1"])
            && core.Upstreams[0].Health.State == Manypaths.Health.HealthState.Up, "the primary answers again");
    }

    [Fact]
    public async Task Latency_AnswersTheClientsRegion_FromItsSubnetOrItsAddress_AndEchoesTheScope()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (node, port) = await StartAsync(
            $"- {{ name: a, url: {a.Url}, dns_address: 192.0.2.1, region: us-east }}\n- {{ name: b, url: {b.Url}, dns_address: 192.0.2.2, region: eu-west }}",
            "- { name: near, type: A, policy: latency, service: svc, clients: { 127.0.0.0/24: us-east, 198.51.100.0/24: eu-west } }");
        await using var _ = node;
        var core = node.Host.Generation!.Services["svc"];
        await Eventually.TrueAsync(() => core.Upstreams.All(u => u.Health.State == Manypaths.Health.HealthState.Up), "both up");

        Assert.Equal(["192.0.2.1"], (await Dig.QueryAsync(port, "near.example.test")).Values); // the source 127.0.0.1 is us-east
        var eu = await Dig.QueryAsync(port, "near.example.test", "A", "+subnet=198.51.100.7/32");
        Assert.Equal(["192.0.2.2"], eu.Values);
        Assert.Contains("CLIENT-SUBNET: 198.51.100.7/32/24", eu.Raw, StringComparison.Ordinal); // echoed, scope = the matched /24

        b.HealthOk = false; // eu-west has nothing healthy: the next region
        await Eventually.TrueAsync(async () => (await Dig.QueryAsync(port, "near.example.test", "A", "+subnet=198.51.100.7/32")).Values.SequenceEqual(["192.0.2.1"]), "eu-west clients cross to us-east");
    }

    [Fact]
    public async Task ALargeAnswer_IsTruncatedOverUdp_AndDigRetriesOverTcp()
    {
        await using var a = await TestUpstream.StartAsync("a");
        var big = string.Join("\n", Enumerable.Range(0, 40).Select(i => $"- {{ name: big, type: TXT, values: [\"record {i:00} {new string('x', 60)}\"] }}"));
        var (node, port) = await StartAsync($"- {{ name: a, url: {a.Url} }}", big);
        await using var _ = node;
        var answer = await Dig.QueryAsync(port, "big.example.test", "TXT", "+noedns");
        Assert.Contains("Truncated, retrying in TCP mode", answer.Raw, StringComparison.Ordinal);
        Assert.Equal(40, answer.Records.Count);
    }
}
