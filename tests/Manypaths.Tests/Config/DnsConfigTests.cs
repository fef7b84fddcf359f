using System.Net;
using Manypaths.Config;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Config;

/// <summary>
/// 'dns:' and 'cluster.quorum' (docs/design/dns.md): the contract example loads with the defaults the design promises,
/// and every record 'check' must refuse is refused at its line and column with a sentence a user understands.
/// </summary>
public sealed class DnsConfigTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-dns-config-");

    public DnsConfigTests() => File.WriteAllText(Path.Combine(_dir.FullName, "cluster.key"), "k");

    /// <summary>
    /// The DNS contract, as an operator would write it (three nodes need a secret_file, and a service on three nodes of
    /// one host needs an address per node). Line numbers matter: the refusals below point into it.
    /// </summary>
    private const string Contract = """
        cluster: { secret_file: cluster.key, quorum: 50% }
        nodes:
          blr: { admin: http://127.0.0.1:7501, region: us-east }
          maa: { admin: http://127.0.0.1:7502, region: us-east }
          del: { admin: http://127.0.0.1:7503, region: eu-west }
        services:
          control:
            listen: { blr: 127.0.0.1:8081, maa: 127.0.0.1:8082, del: 127.0.0.1:8083 }
            upstreams:
              - { name: a, url: http://127.0.0.1:9001, region: us-east }
              - { name: b, url: http://127.0.0.2:9002, region: eu-west, tier: backup }
        dns:
          listen: { blr: 127.0.0.1:5301, maa: 127.0.0.1:5302, del: 127.0.0.1:5303 }
          quorum: 50%
          zones:
            example.test:
              ttl: 20s
              records:
                - { name: "@", type: NS, values: [ns1.example.test., ns2.example.test.] }
                - { name: ns1, type: A, values: [127.0.0.1] }
                - { name: www, type: A, policy: failover, service: control }
                - { name: api, type: A, policy: weighted, service: control, answers: 1 }
                - { name: near, type: A, policy: latency, service: control, clients: { 127.0.0.0/24: us-east, 127.0.1.0/24: eu-west } }
                - { name: all, type: A, policy: multivalue, service: control, answers: 8 }
                - { name: fixed, type: TXT, values: ["v=1"] }
        """;

    private string ConfigPath => Path.Combine(_dir.FullName, "manypaths.yaml");

    /// <summary>The contract with each (old, new) pair replaced once, in order; each 'old' must be there, so a case cannot rot.</summary>
    private static string With(params string[] pairs)
    {
        var text = Contract;
        for (var i = 0; i < pairs.Length; i += 2)
        {
            var at = text.IndexOf(pairs[i], StringComparison.Ordinal);
            if (at < 0)
            {
                throw new ArgumentException($"The contract no longer contains '{pairs[i]}'.");
            }

            text = string.Concat(text.AsSpan(0, at), pairs[i + 1], text.AsSpan(at + pairs[i].Length));
        }

        return text;
    }

    private ManypathsConfig LoadValid(string yaml) => ConfigAssert.LoadValid(yaml, ConfigPath);

    private static RecordOptions Record(ManypathsConfig config, string name) => Assert.Single(Assert.Single(config.Dns!.Zones).Records, r => r.Name == name);

    private void AssertRefused(string yaml, int line, int column, string message, string name = "") =>
        ConfigAssert.Refused(yaml, ConfigPath, line, column, message, name);

    [Fact]
    public void Load_TheContractExample_GivesTheZoneWithStaticAndHealthAwareRecords()
    {
        var config = LoadValid(Contract);

        Assert.Equal(0.5, config.Cluster.Quorum);
        var dns = config.Dns!;
        Assert.Equal(0.5, dns.Quorum);
        Assert.Null(dns.Listen.All);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5301), dns.Listen.For("blr"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5302), dns.Listen.For("maa"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5303), dns.Listen.For("del"));

        var zone = Assert.Single(dns.Zones);
        Assert.Equal("example.test", zone.Name);
        Assert.Equal(TimeSpan.FromSeconds(20), zone.Ttl);
        Assert.Equal(["@", "ns1", "www", "api", "near", "all", "fixed"], zone.Records.Select(r => r.Name));
        Assert.Equal(["NS", "A", "A", "A", "A", "A", "TXT"], zone.Records.Select(r => r.Type));
        Assert.Equal(
            [DnsPolicy.Static, DnsPolicy.Static, DnsPolicy.Failover, DnsPolicy.Weighted, DnsPolicy.Latency, DnsPolicy.Multivalue, DnsPolicy.Static],
            zone.Records.Select(r => r.Policy));
        Assert.All(zone.Records, r => Assert.Null(r.Ttl)); // the zone's ttl applies

        Assert.Equal(["ns1.example.test.", "ns2.example.test."], Record(config, "@").Values);
        Assert.Equal(["127.0.0.1"], Record(config, "ns1").Values);
        Assert.Equal(["v=1"], Record(config, "fixed").Values);
        Assert.Null(Record(config, "fixed").Service);

        foreach (var name in (string[])["www", "api", "near", "all"])
        {
            Assert.Equal("control", Record(config, name).Service);
            Assert.Empty(Record(config, name).Values);
        }

        Assert.Equal(1, Record(config, "api").Answers);
        Assert.Equal(8, Record(config, "all").Answers);
        Assert.Equal(8, Record(config, "www").Answers); // unset: 8 for every policy but weighted
        Assert.Equal(8, Record(config, "near").Answers);
        Assert.Equal(
            [(IPNetwork.Parse("127.0.0.0/24"), "us-east"), (IPNetwork.Parse("127.0.1.0/24"), "eu-west")],
            Record(config, "near").Clients);
        Assert.Empty(Record(config, "www").Clients);
        Assert.Equal(21, Record(config, "www").Line);
    }

    [Fact]
    public void Load_AnswersUnset_IsOneForWeightedAndEightForTheOthers()
    {
        var config = LoadValid(With("service: control, answers: 1 }", "service: control }", "service: control, answers: 8 }", "service: control }"));
        Assert.Equal(1, Record(config, "api").Answers);
        Assert.Equal(8, Record(config, "all").Answers);
        Assert.Equal(8, Record(config, "www").Answers);
        Assert.Equal(8, Record(config, "near").Answers);

        var set = LoadValid(With("service: control, answers: 1 }", "service: control, answers: 3 }", "policy: latency, service: control,", "policy: latency, service: control, answers: 2,"));
        Assert.Equal(3, Record(set, "api").Answers);
        Assert.Equal(2, Record(set, "near").Answers);
    }

    [Fact]
    public void Load_DnsQuorum_OverridesClusterQuorum_AndWithoutItClusterQuorumApplies()
    {
        var both = LoadValid(With("  quorum: 50%\n", "  quorum: 0.75\n"));
        Assert.Equal(0.5, both.Cluster.Quorum);
        Assert.Equal(0.75, both.Dns!.Quorum);
        Assert.Equal(0.75, both.Dns.Quorum ?? both.Cluster.Quorum); // what a node answers by (NodeHost)

        var clusterOnly = LoadValid(With("quorum: 50% }", "quorum: 80% }", "  quorum: 50%\n", ""));
        Assert.Null(clusterOnly.Dns!.Quorum);
        Assert.Equal(0.8, clusterOnly.Cluster.Quorum);

        var neither = LoadValid(With(", quorum: 50% }", " }", "  quorum: 50%\n", ""));
        Assert.Null(neither.Dns!.Quorum);
        Assert.Equal(0.5, neither.Cluster.Quorum); // the default: 50%
    }

    [Theory]
    [InlineData("50%", 0.5)]
    [InlineData("0.5", 0.5)]
    [InlineData("12.5%", 0.125)]
    [InlineData("100%", 1.0)]
    [InlineData("1", 1.0)]
    [InlineData("0.01", 0.01)]
    public void Load_AShare_IsAPercentageOrANumberUpToOne(string written, double share)
    {
        Assert.Equal(share, LoadValid(With("  quorum: 50%\n", $"  quorum: {written}\n")).Dns!.Quorum!.Value, 9);
        Assert.Equal(share, LoadValid(With("quorum: 50% }", $"quorum: {written} }}")).Cluster.Quorum, 9);
    }

    [Fact]
    public void Load_OneListenAddressATrailingDotAndLowerCaseType_AreNormalised()
    {
        // One address for every node: the nodes are on three hosts (on one host only one of them could bind it).
        var config = LoadValid(With(
            "admin: http://127.0.0.1:7501", "admin: http://10.250.0.1:7501",
            "admin: http://127.0.0.1:7502", "admin: http://10.250.0.2:7502",
            "admin: http://127.0.0.1:7503", "admin: http://10.250.0.3:7503",
            "listen: { blr: 127.0.0.1:5301, maa: 127.0.0.1:5302, del: 127.0.0.1:5303 }", "listen: 127.0.0.1:5301",
            "    example.test:", "    Example.Test.:",
            "name: fixed, type: TXT, values: [\"v=1\"]", "name: Fixed, type: txt, ttl: 5s, values: \"v=1\""));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5301), config.Dns!.Listen.All);
        Assert.Equal("example.test", Assert.Single(config.Dns.Zones).Name);
        var fixedRecord = Record(config, "fixed");
        Assert.Equal(("TXT", TimeSpan.FromSeconds(5)), (fixedRecord.Type, fixedRecord.Ttl));
        Assert.Equal(["v=1"], fixedRecord.Values);
    }

    [Fact]
    public void Load_AValueOfEveryStaticType_IsKeptAsWritten()
    {
        var config = LoadValid(With("        - { name: fixed, type: TXT, values: [\"v=1\"] }", """
                    - { name: fixed, type: TXT, values: ["v=1"] }
                    - { name: "@", type: SOA, values: ["ns1.example.test. admin.example.test. 1 3600 600 86400 20"] }
                    - { name: mail, type: MX, values: ["10 mx.example.test."] }
                    - { name: _https._tcp, type: SRV, values: ["10 5 443 www.example.test."] }
                    - { name: alias, type: CNAME, values: [www.example.test.] }
                    - { name: six, type: AAAA, values: ["2001:db8::1"] }
                    - { name: deep.wild, type: A, values: [192.0.2.1] }
            """));
        var records = Assert.Single(config.Dns!.Zones).Records;
        Assert.Equal(["ns1.example.test. admin.example.test. 1 3600 600 86400 20"], Assert.Single(records, r => r.Type == "SOA").Values);
        Assert.Equal(["10 mx.example.test."], Record(config, "mail").Values);
        Assert.Equal(["10 5 443 www.example.test."], Record(config, "_https._tcp").Values);
        Assert.Equal(["www.example.test."], Record(config, "alias").Values);
        Assert.Equal(["2001:db8::1"], Record(config, "six").Values);
        Assert.Equal("A", Record(config, "deep.wild").Type);
    }

    [Fact]
    public void Load_DnsAddress_IsParsed_AndOverridesTheUpstreamsHost()
    {
        var config = LoadValid(With(
            "url: http://127.0.0.2:9002,", "url: http://b.internal:9002, dns_address: 192.0.2.7,",
            "url: http://127.0.0.1:9001,", "url: http://127.0.0.1:9001, dns_address: 198.51.100.1,"));
        var (a, b) = (config.Services["control"].Upstreams[0], config.Services["control"].Upstreams[1]);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), a.DnsAddress);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), b.DnsAddress);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), DnsReader.DnsAddress(a)); // not the host 127.0.0.1
        Assert.Equal(IPAddress.Parse("192.0.2.7"), DnsReader.DnsAddress(b));
        Assert.Equal("http://b.internal:9002/", b.Url.ToString()); // traffic still goes to the host
    }

    [Fact]
    public void DnsAddress_WithoutDnsAddress_IsTheHostWhenAnIpLiteral_ElseNone()
    {
        var config = LoadValid(With(
            "- { name: all,", "- { name: all6, type: AAAA, policy: multivalue, service: v6 }\n        - { name: all,",
            "dns:\n", """
              v6:
                mode: tcp
                listen: { blr: 127.0.0.1:8091, maa: 127.0.0.1:8092, del: 127.0.0.1:8093 }
                upstreams:
                  - { name: r1, address: "[2001:db8::5]:6379" }
                  - { name: r2, address: "[::1]:6380" }
                  - { name: r3, address: db3.internal:6379, dns_address: "2001:db8::6" }
              plain:
                listen: { blr: 127.0.0.1:8094, maa: 127.0.0.1:8095, del: 127.0.0.1:8096 }
                upstreams:
                  - { name: p, url: http://p.internal:9000 }
            dns:

            """));
        Assert.Equal(IPAddress.Loopback, DnsReader.DnsAddress(config.Services["control"].Upstreams[0]));
        var v6 = config.Services["v6"].Upstreams;
        Assert.Equal(IPAddress.Parse("2001:db8::5"), DnsReader.DnsAddress(v6[0]));
        Assert.Equal(IPAddress.IPv6Loopback, DnsReader.DnsAddress(v6[1]));
        Assert.Null(v6[1].DnsAddress);
        Assert.Equal(IPAddress.Parse("2001:db8::6"), DnsReader.DnsAddress(v6[2]));
        var plain = Assert.Single(config.Services["plain"].Upstreams);
        Assert.Null(DnsReader.DnsAddress(plain)); // a host name, and no record names its service: nothing to answer, nothing refused
        Assert.Equal("v6", Record(config, "all6").Service);
    }

    public static TheoryData<string, string, int, int, string> Refusals => new()
    {
        // A health-aware record needs a declared service whose every upstream has an address of the record's family.
        { "unknown service", With("service: control, answers: 1", "service: contrl, answers: 1"), 22, 60,
            "The record 'api' of zone 'example.test' answers for service 'contrl', which is not declared under 'services'. Did you mean 'control'?" },
        { "unknown service, nothing close", With("policy: failover, service: control", "policy: failover, service: billing"), 21, 60,
            "The record 'www' of zone 'example.test' answers for service 'billing', which is not declared under 'services'." },
        { "upstream with a host name and no dns_address", With("url: http://127.0.0.2:9002", "url: http://b.internal:9002"), 21, 60,
            "The A record 'www' of zone 'example.test' answers with the addresses of service 'control', but upstream(s) b have no IPv4 address: their url/address host is not an IP literal of that family. Give them 'dns_address:'." },
        { "AAAA record over IPv4 upstreams", With("name: www, type: A,", "name: www, type: AAAA,"), 21, 63,
            "The AAAA record 'www' of zone 'example.test' answers with the addresses of service 'control', but upstream(s) a, b have no IPv6 address" },
        { "dns_address of the other family", With("url: http://127.0.0.1:9001,", "url: http://127.0.0.1:9001, dns_address: \"2001:db8::1\","), 21, 60,
            "The A record 'www' of zone 'example.test' answers with the addresses of service 'control', but upstream(s) a have no IPv4 address" },

        // A policy record is A or AAAA, takes no values; clients only with latency.
        { "policy record of type CNAME", With("name: www, type: A,", "name: www, type: CNAME,"), 21, 30,
            "A record with 'policy: failover' must be of type A or AAAA (the addresses of a service's upstreams), not CNAME." },
        { "policy record of type MX", With("name: near, type: A,", "name: near, type: MX,"), 23, 31,
            "A record with 'policy: latency' must be of type A or AAAA (the addresses of a service's upstreams), not MX." },
        { "values on a policy record", With("policy: failover, service: control }", "policy: failover, service: control, values: [127.0.0.1] }"), 21, 77,
            "A record with a policy takes its addresses from its 'service', not from 'values'." },
        { "clients on a multivalue record", With("service: control, answers: 8 }", "service: control, answers: 8, clients: { 127.0.0.0/24: us-east } }"), 24, 92,
            "'clients' in a record of zone 'example.test' applies only to 'policy: latency'." },
        { "clients on a failover record", With("policy: failover, service: control }", "policy: failover, service: control, clients: { 127.0.0.0/24: us-east } }"), 21, 78,
            "'clients' in a record of zone 'example.test' applies only to 'policy: latency'." },
        { "clients on a static record", With("values: [\"v=1\"] }", "values: [\"v=1\"], clients: { 10.250.0.0/16: x } }"), 25, 63,
            "'clients' in a record of zone 'example.test' applies only to a record with a policy (failover, weighted, latency, multivalue)." },
        { "service on a static record", With("values: [\"v=1\"] }", "values: [\"v=1\"], service: control }"), 25, 63,
            "'service' in a record of zone 'example.test' applies only to a record with a policy (failover, weighted, latency, multivalue)." },
        { "unknown policy", With("policy: failover", "policy: geo"), 21, 41,
            "'policy' in a record of zone 'example.test' must be failover, weighted, latency or multivalue, not 'geo'." },
        { "answers 0", With("answers: 1 }", "answers: 0 }"), 22, 78,
            "'answers' in a record of zone 'example.test' must be between 1 and 64, not 0." },
        { "client network that is not CIDR", With("127.0.1.0/24: eu-west", "127.0.1.0/33: eu-west"), 23, 103,
            "'127.0.1.0/33' is not a network in CIDR form such as 192.0.2.0/24 or 2001:db8::/32." },

        // A zone needs an NS record at its apex.
        { "zone without NS", With("        - { name: \"@\", type: NS, values: [ns1.example.test., ns2.example.test.] }\n", ""), 19, 9,
            "Zone 'example.test' has no NS record at its apex (name: \"@\"): list the nodes that answer for it." },
        { "NS record below the apex only", With("{ name: \"@\", type: NS,", "{ name: ns, type: NS,"), 19, 9,
            "Zone 'example.test' has no NS record at its apex (name: \"@\"): list the nodes that answer for it." },
        { "zone with no records", Contract[..Contract.IndexOf("      records:", StringComparison.Ordinal)] + "      records: []\n", 18, 16,
            "Zone 'example.test' has no NS record at its apex (name: \"@\"): list the nodes that answer for it." },

        // Values per type.
        { "A value that is an IPv6 address", With("values: [127.0.0.1]", "values: [\"::1\"]"), 20, 42,
            "'::1' is not a valid A value: an IPv4 address such as 192.0.2.1." },
        { "AAAA value that is an IPv4 address", With("{ name: ns1, type: A,", "{ name: ns1, type: AAAA,"), 20, 45,
            "'127.0.0.1' is not a valid AAAA value: an IPv6 address such as 2001:db8::1." },
        { "MX without a preference", With("type: TXT, values: [\"v=1\"]", "type: MX, values: [mx.example.test.]"), 25, 45,
            "'mx.example.test.' is not a valid MX value: a preference and a host, such as \"10 mail.example.test.\"." },
        { "SRV without a port", With("type: TXT, values: [\"v=1\"]", "type: SRV, values: [\"10 5 www.example.test.\"]"), 25, 46,
            "'10 5 www.example.test.' is not a valid SRV value: priority, weight, port and target, such as \"10 5 443 www.example.test.\"." },
        { "SOA with 5 fields", With("type: TXT, values: [\"v=1\"]", "type: SOA, values: [\"ns1.example.test. admin.example.test. 1 3600 600\"]"), 25, 46,
            "'ns1.example.test. admin.example.test. 1 3600 600' is not a valid SOA value: mname rname serial refresh retry expire minimum, such as \"ns1.example.test. admin.example.test. 1 3600 600 86400 20\"." },
        { "wildcard that is not a whole leftmost label", With("        - { name: fixed, type: TXT, values: [\"v=1\"] }", "        - { name: \"w*.wild\", type: TXT, values: [\"v=1\"] }"), 25, 19,
            "'w*.wild': a wildcard is a whole '*' label, leftmost and only once (RFC 4592): \"*\" or \"*.dev\", not 'w*.wild'." },
        { "wildcard below a wildcard", With("        - { name: fixed, type: TXT, values: [\"v=1\"] }", "        - { name: \"*.*.wild\", type: TXT, values: [\"v=1\"] }"), 25, 19,
            "'*.*.wild': a wildcard is a whole '*' label, leftmost and only once (RFC 4592): \"*\" or \"*.dev\", not '*.*.wild'." },
        { "NS value that is not a host name", With("values: [ns1.example.test., ns2.example.test.]", "values: [ns1.example.test., \"ns2 example\"]"), 19, 62,
            "'ns2 example' is not a valid NS value: a host name such as ns1.example.test (a trailing dot is allowed)." },
        { "unknown type", With("type: TXT", "type: PTR"), 25, 32,
            "'type' in a record of zone 'example.test' must be one of A, AAAA, NS, CNAME, TXT, MX, SRV, SOA, not 'PTR'." },
        { "static record without values", With("{ name: ns1, type: A, values: [127.0.0.1] }", "{ name: ns1, type: A }"), 20, 11,
            "The A record 'ns1' of zone 'example.test' needs 'values' (or a 'policy' with a 'service')." },

        // The rest of 'dns', cluster.quorum and dns_address.
        { "dns quorum above 100%", With("  quorum: 50%\n", "  quorum: 150%\n"), 14, 11,
            "'quorum' in 'dns' in the config file must be a share above 0 and at most 100%, such as 50% or 0.5, not '150%'." },
        { "dns quorum 50 without a percent sign", With("  quorum: 50%\n", "  quorum: 50\n"), 14, 11,
            "'quorum' in 'dns' in the config file must be a share above 0 and at most 100%, such as 50% or 0.5, not '50'." },
        { "cluster quorum 0", With("quorum: 50% }", "quorum: 0 }"), 1, 46,
            "'quorum' in 'cluster' in the config file must be a share above 0 and at most 100%, such as 50% or 0.5, not '0'." },
        { "dns without zones", Contract[..Contract.IndexOf("  zones:", StringComparison.Ordinal)], 13, 3,
            "'dns' in the config file needs 'zones': at least one zone with its records." },
        { "dns listen on a service's address", With("blr: 127.0.0.1:5301", "blr: 127.0.0.1:8081"), 13, 11,
            "DNS (dns.listen, UDP and TCP) listens on 127.0.0.1:8081 on node 'blr', which Service 'control' already uses." },
        { "dns listen on the node's admin address", With("maa: 127.0.0.1:5302", "maa: 127.0.0.1:7502"), 13, 11,
            "DNS (dns.listen, UDP and TCP) listens on 127.0.0.1:7502 on node 'maa', which the admin API of node 'maa' already uses." },
        { "dns listen naming an undeclared node", With("del: 127.0.0.1:5303 }", "bom: 127.0.0.1:5303 }"), 13, 55,
            "'listen' in 'dns' in the config file names node 'bom', which is not declared under 'nodes'." },
        { "zone ttl under 1s", With("ttl: 20s", "ttl: 500ms"), 17, 12,
            "'ttl' in zone 'example.test' must be at least 1s, not 500ms." },
        { "bad dns_address", With("url: http://127.0.0.2:9002,", "url: http://127.0.0.2:9002, dns_address: 192.0.2.300,"), 11, 61,
            "'dns_address' in an upstream of service 'control' must be an IPv4 or IPv6 address, not '192.0.2.300'." },
        { "dns_address that is a host name", With("url: http://127.0.0.2:9002,", "url: http://127.0.0.2:9002, dns_address: b.example.test,"), 11, 61,
            "'dns_address' in an upstream of service 'control' must be an IPv4 or IPv6 address, not 'b.example.test'." },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Load_DnsMistake_IsRefusedAtItsPositionWithASentence(string name, string yaml, int line, int column, string message)
    {
        AssertRefused(yaml, line, column, message, name);
    }

    [Fact]
    public void Load_AnUpstreamWithoutAnAddress_IsReportedOnEveryRecordThatAnswersWithIt()
    {
        var result = ConfigLoader.Load(With("url: http://127.0.0.2:9002", "url: http://b.internal:9002"), ConfigPath);
        Assert.False(result.Ok);
        Assert.Equal(
            [(21, "www"), (22, "api"), (23, "near"), (24, "all")],
            result.Errors.Select(e => (e.Line, e.Message.Split('\'')[1])));
    }

    [Fact]
    public void Load_ADnsAddressForTheHostNameUpstream_MakesTheContractValidAgain()
    {
        var config = LoadValid(With("url: http://127.0.0.2:9002,", "url: http://b.internal:9002, dns_address: 127.0.0.2,"));
        Assert.Equal(IPAddress.Parse("127.0.0.2"), DnsReader.DnsAddress(config.Services["control"].Upstreams[1]));
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
