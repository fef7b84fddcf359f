using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Manypaths.Config;
using Manypaths.Dns;

namespace Manypaths.Tests.Dns;

/// <summary>
/// <see cref="ZoneBook"/> and <see cref="RecordPicker"/> without sockets: options built directly, queries built with
/// ARSoft, a fake <see cref="IEndpointViews"/> with per-(service, upstream) views, and a seeded random source.
/// A book reuses a set's healthy endpoints for <see cref="RecordPicker.Reuse"/> (on the real clock), so a test that
/// changes the views asks a fresh book (or waits for the reuse to end, in the one test about it).
/// </summary>
public sealed class ZoneBookTests
{
    private const string Zone = "example.test";
    private static readonly IPAddress Resolver = IPAddress.Parse("192.0.2.53");

    /// <summary>What every node heard says about each upstream, and this node's latency to it.</summary>
    private sealed class FakeViews : IEndpointViews
    {
        public Dictionary<(string Service, string Upstream), IReadOnlyList<(string Node, bool Healthy)>> Seen { get; } = [];

        public Dictionary<(string Service, string Upstream), double> Latency { get; } = [];

        /// <summary>Unknown upstreams: seen healthy by this node alone.</summary>
        public IReadOnlyList<(string Node, bool Healthy)> Views(string service, string upstream) =>
            Seen.TryGetValue((service, upstream), out var v) ? v : [("n1", true)];

        public double LatencyMs(string service, string upstream) => Latency.TryGetValue((service, upstream), out var ms) ? ms : double.NaN;

        public FakeViews Set(string upstream, params (string Node, bool Healthy)[] views)
        {
            Seen[("svc", upstream)] = views;
            return this;
        }

        /// <summary>Seen healthy (true) or unhealthy (false) by all three nodes.</summary>
        public FakeViews All(string upstream, bool healthy) => Set(upstream, ("n1", healthy), ("n2", healthy), ("n3", healthy));
    }

    private static UpstreamOptions Up(string name, string ip, int tier = 0, string? region = null, int weight = 1, bool viaDnsAddress = false) => new()
    {
        Name = name,
        // Half the helpers give the address as the URL's host, half as dns_address over a host name: both are answered.
        Url = new Uri(viaDnsAddress ? $"http://{name}.internal:8080/" : $"http://{ip}:8080/"),
        DnsAddress = viaDnsAddress ? IPAddress.Parse(ip) : null,
        Tier = tier,
        Region = region,
        Weight = weight,
    };

    private static RecordOptions Static(string name, string type, params string[] values) =>
        new(name, type, values, null, DnsPolicy.Static, null, 1, [], 0);

    private static RecordOptions Aware(string name, DnsPolicy policy, int answers = 8, IReadOnlyList<(IPNetwork, string)>? clients = null, string type = "A") =>
        new(name, type, [], null, policy, "svc", answers, clients ?? [], 0);

    private static ZoneBook Book(IEnumerable<RecordOptions> records, IReadOnlyList<UpstreamOptions> upstreams, FakeViews? views = null,
        double quorum = 0.5, string? nodeRegion = "ap-south", int seed = 7, IEnumerable<ZoneOptions>? moreZones = null, bool withNs = true)
    {
        var all = new List<RecordOptions>();
        if (withNs)
        {
            all.Add(Static("@", "NS", "ns1.example.test.", "ns2.example.test."));
            all.Add(Static("ns1", "A", "192.0.2.53"));
        }

        all.AddRange(records);
        var options = new DnsOptions
        {
            Listen = new ListenAddresses { All = new IPEndPoint(IPAddress.Loopback, 53) },
            Zones = [new ZoneOptions(Zone, TimeSpan.FromSeconds(20), all), .. moreZones ?? []],
        };
        var services = new Dictionary<string, ServiceOptions> { ["svc"] = new() { Name = "svc", Upstreams = upstreams } };
        return new ZoneBook(options, services, serial: 42, views ?? new FakeViews(), quorum, nodeRegion, new Random(seed));
    }

    private static DnsMessage Query(string name, RecordType type = RecordType.A, ClientSubnetOption? ecs = null, bool edns = false)
    {
        var query = new DnsMessage { TransactionID = 4711, Questions = { new DnsQuestion(DomainName.Parse(name), type, RecordClass.INet) } };
        if (ecs is not null || edns)
        {
            var opt = new OptRecord();
            if (ecs is not null)
            {
                opt.Options.Add(ecs);
            }

            query.EDnsOptions = opt;
        }

        return query;
    }

    private static DnsMessage Ask(ZoneBook book, string name, RecordType type = RecordType.A, string source = "192.0.2.53", ClientSubnetOption? ecs = null) =>
        book.Answer(Query(name, type, ecs), IPAddress.Parse(source));

    private static List<string> Addresses(DnsMessage response) => response.AnswerRecords.Select(r => r switch
    {
        ARecord a => a.Address.ToString(),
        AaaaRecord aaaa => aaaa.Address.ToString(),
        _ => r.RecordType.ToString(),
    }).Order(StringComparer.Ordinal).ToList();

    private static ClientSubnetOption? EchoedSubnet(DnsMessage response) => response.EDnsOptions?.Options.OfType<ClientSubnetOption>().SingleOrDefault();

    // ---- quorum ----

    [Fact]
    public void Quorum_TwoOfThreeHealthy_IsAnswered_OneOfThree_IsNot()
    {
        var views = new FakeViews()
            .Set("a", ("n1", true), ("n2", false), ("n3", true))   // 2 of 3: healthy
            .Set("b", ("n1", true), ("n2", false), ("n3", false))  // 1 of 3: not
            .Set("c", ("n1", false), ("n2", true), ("n3", true));  // 2 of 3 (this node itself sees it down): healthy
        var book = Book([Aware("all", DnsPolicy.Multivalue)], [Up("a", "192.0.2.1"), Up("b", "192.0.2.2"), Up("c", "192.0.2.3", viaDnsAddress: true)], views);

        var response = Ask(book, "all.example.test");

        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.True(response.IsAuthoritiveAnswer);
        Assert.Equal(["192.0.2.1", "192.0.2.3"], Addresses(response));
        Assert.All(response.AnswerRecords, r => Assert.Equal(20, r.TimeToLive)); // the zone ttl
    }

    [Fact]
    public void Quorum_WithOnlyThisNodeHeard_ItsOwnViewDecides()
    {
        var views = new FakeViews().Set("a", ("n1", true)).Set("b", ("n1", false));
        var book = Book([Aware("all", DnsPolicy.Multivalue)], [Up("a", "192.0.2.1"), Up("b", "192.0.2.2")], views);

        Assert.Equal(["192.0.2.1"], Addresses(Ask(book, "all.example.test")));
    }

    [Fact]
    public void Quorum_FiftyPercentOfTwoNodes_IsOneNode()
    {
        var views = new FakeViews()
            .Set("a", ("n1", true), ("n2", false))   // 1 of 2 = 50%: enough
            .Set("b", ("n1", false), ("n2", true))   // the same from the other side
            .Set("c", ("n1", false), ("n2", false)); // 0 of 2
        var book = Book([Aware("all", DnsPolicy.Multivalue)], [Up("a", "192.0.2.1"), Up("b", "192.0.2.2"), Up("c", "192.0.2.3")], views);

        Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(Ask(book, "all.example.test")));
    }

    [Fact]
    public void Quorum_AHigherShare_NeedsMoreVotes()
    {
        var views = new FakeViews()
            .Set("a", ("n1", true), ("n2", true), ("n3", false), ("n4", true))   // 3 of 4 = 75%
            .Set("b", ("n1", true), ("n2", true), ("n3", false), ("n4", false)); // 2 of 4 = 50%
        var upstreams = new[] { Up("a", "192.0.2.1"), Up("b", "192.0.2.2") };

        Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(Ask(Book([Aware("all", DnsPolicy.Multivalue)], upstreams, views, quorum: 0.5), "all.example.test")));
        Assert.Equal(["192.0.2.1"], Addresses(Ask(Book([Aware("all", DnsPolicy.Multivalue)], upstreams, views, quorum: 0.75), "all.example.test")));
    }

    [Fact]
    public void QuorumHealth_CountsOnlyTheNodesHeard()
    {
        Assert.True(QuorumHealth.Healthy([("n1", true), ("n2", false), ("n3", true)], 0.5));
        Assert.False(QuorumHealth.Healthy([("n1", true), ("n2", false), ("n3", false)], 0.5));
        Assert.True(QuorumHealth.Healthy([("n1", true)], 0.5));
        Assert.False(QuorumHealth.Healthy([("n1", false)], 0.5));
        Assert.True(QuorumHealth.Healthy([("n1", true), ("n2", false)], 0.5));
        Assert.False(QuorumHealth.Healthy([], 0.5)); // nobody heard: no evidence
    }

    // ---- failover ----

    [Fact]
    public void Failover_AnswersTheBestTierWithAHealthyEndpoint()
    {
        var views = new FakeViews().All("p1", false).All("p2", false).All("b1", false).All("b2", true).All("c1", true);
        var upstreams = new[]
        {
            Up("p1", "192.0.2.1", tier: 0), Up("p2", "192.0.2.2", tier: 0),
            Up("b1", "192.0.2.11", tier: 1), Up("b2", "192.0.2.12", tier: 1),
            Up("c1", "192.0.2.21", tier: 2),
        };
        ZoneBook Fresh() => Book([Aware("www", DnsPolicy.Failover)], upstreams, views);

        Assert.Equal(["192.0.2.12"], Addresses(Ask(Fresh(), "www.example.test"))); // tier 1's healthy one only, not tier 2

        views.All("p2", true);
        Assert.Equal(["192.0.2.2"], Addresses(Ask(Fresh(), "www.example.test"))); // the primary tier again, its healthy one only

        views.All("p1", true).All("b1", true);
        Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(Ask(Fresh(), "www.example.test"))); // every healthy endpoint of the tier
    }

    [Fact]
    public void Failover_WithNothingHealthy_AnswersThePrimaryTier_NeverAnEmptyAnswer()
    {
        var views = new FakeViews().All("p1", false).All("p2", false).All("b1", false);
        var book = Book([Aware("www", DnsPolicy.Failover)], [Up("b1", "192.0.2.11", tier: 1), Up("p1", "192.0.2.1"), Up("p2", "192.0.2.2")], views);

        var response = Ask(book, "www.example.test");

        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(response));
        Assert.Empty(response.AuthorityRecords); // a positive answer
    }

    [Fact]
    public async Task AHealthChange_ReachesTheAnswersOfTheSameBook_AfterTheReuseAtMost()
    {
        var views = new FakeViews().All("p", true);
        var book = Book([Aware("www", DnsPolicy.Failover)], [Up("p", "192.0.2.1"), Up("b", "192.0.2.2", tier: 1)], views);
        Assert.Equal(["192.0.2.1"], Addresses(Ask(book, "www.example.test")));

        views.All("p", false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Support.Eventually.TrueAsync(() => Addresses(Ask(book, "www.example.test")).SequenceEqual(["192.0.2.2"]), "the backup is answered", TimeSpan.FromSeconds(2));
        Assert.True(clock.Elapsed < RecordPicker.Reuse + TimeSpan.FromMilliseconds(500), $"{clock.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public void NothingHealthy_EveryPolicyAnswersSomething()
    {
        var views = new FakeViews().All("a", false).All("b", false);
        var upstreams = new[] { Up("a", "192.0.2.1", region: "us-east"), Up("b", "192.0.2.2", region: "eu-west") };
        foreach (var policy in new[] { DnsPolicy.Failover, DnsPolicy.Weighted, DnsPolicy.Multivalue, DnsPolicy.Latency })
        {
            var book = Book([Aware("x", policy, answers: policy == DnsPolicy.Weighted ? 1 : 8)], upstreams, views);
            Assert.NotEmpty(Ask(book, "x.example.test").AnswerRecords);
        }
    }

    // ---- weighted ----

    [Fact]
    public void Weighted_DrawsFollowTheWeights()
    {
        var views = new FakeViews().All("heavy-but-down", false);
        var book = Book([Aware("w", DnsPolicy.Weighted, answers: 1)],
            [Up("light", "192.0.2.1", weight: 1), Up("heavy", "192.0.2.2", weight: 3), Up("heavy-but-down", "192.0.2.3", weight: 100)], views, seed: 12345);
        var counts = new Dictionary<string, int>();
        const int draws = 10_000;
        for (var i = 0; i < draws; i++)
        {
            var answer = Assert.Single(Addresses(Ask(book, "w.example.test")));
            counts[answer] = counts.GetValueOrDefault(answer) + 1;
        }

        Assert.False(counts.ContainsKey("192.0.2.3"), "an unhealthy endpoint is never drawn, whatever its weight");
        var light = counts.GetValueOrDefault("192.0.2.1") / (double)draws;
        var heavy = counts.GetValueOrDefault("192.0.2.2") / (double)draws;
        Assert.InRange(light, 0.23, 0.27);
        Assert.InRange(heavy, 0.73, 0.77);
    }

    [Fact]
    public void Weighted_WithSeveralAnswers_DrawsDistinctEndpoints_AtMostTheHealthyOnes()
    {
        var views = new FakeViews().All("c", false);
        var book = Book([Aware("w", DnsPolicy.Weighted, answers: 2), Aware("w3", DnsPolicy.Weighted, answers: 5)],
            [Up("a", "192.0.2.1", weight: 1), Up("b", "192.0.2.2", weight: 1000), Up("c", "192.0.2.3")], views);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(Ask(book, "w.example.test"))); // two distinct, even with skewed weights
            Assert.Equal(["192.0.2.1", "192.0.2.2"], Addresses(Ask(book, "w3.example.test")));
        }
    }

    // ---- multivalue ----

    [Fact]
    public void Multivalue_AnswersAtMostAnswers_AllHealthy_AndShuffles()
    {
        var views = new FakeViews().All("e", false);
        var upstreams = Enumerable.Range(1, 5).Select(i => Up(((char)('a' + i - 1)).ToString(), $"192.0.2.{i}")).ToList(); // a..e, e unhealthy
        var book = Book([Aware("three", DnsPolicy.Multivalue, answers: 3)], upstreams, views);
        var firsts = new HashSet<string>();
        var seen = new HashSet<string>();
        for (var i = 0; i < 500; i++)
        {
            var response = Ask(book, "three.example.test");
            var addresses = Addresses(response);
            Assert.Equal(3, addresses.Count);
            Assert.Equal(3, addresses.Distinct().Count());
            Assert.DoesNotContain("192.0.2.5", addresses);
            seen.UnionWith(addresses);
            firsts.Add(((ARecord)response.AnswerRecords[0]).Address.ToString());
        }

        Assert.Equal(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"], seen.Order(StringComparer.Ordinal));
        Assert.Equal(4, firsts.Count); // shuffled: every healthy one comes first sometimes
    }

    [Fact]
    public void Multivalue_WithFewerHealthyThanAnswers_AnswersEveryHealthyOne()
    {
        var views = new FakeViews().All("b", false).All("d", false);
        var book = Book([Aware("all", DnsPolicy.Multivalue, answers: 8)],
            [Up("a", "192.0.2.1"), Up("b", "192.0.2.2"), Up("c", "192.0.2.3"), Up("d", "192.0.2.4")], views);

        Assert.Equal(["192.0.2.1", "192.0.2.3"], Addresses(Ask(book, "all.example.test")));
    }

    [Fact]
    public void HealthAwareAaaa_AnswersOnlyTheIpv6Endpoints()
    {
        var book = Book([Aware("all", DnsPolicy.Multivalue), Aware("all", DnsPolicy.Multivalue, type: "AAAA")],
            [Up("a", "192.0.2.1"), Up("b", "2001:db8::2", viaDnsAddress: true), Up("c", "[2001:db8::3]")]);

        Assert.Equal(["192.0.2.1"], Addresses(Ask(book, "all.example.test")));
        Assert.Equal(["2001:db8::2", "2001:db8::3"], Addresses(Ask(book, "all.example.test", RecordType.Aaaa)));
    }

    // ---- latency ----

    private static readonly IReadOnlyList<(IPNetwork, string)> Clients =
    [
        (IPNetwork.Parse("10.250.0.0/16"), "us-east"),
        (IPNetwork.Parse("10.250.1.0/24"), "eu-west"), // more specific: wins for 10.250.1/24 though listed after the /16
        (IPNetwork.Parse("2001:db8:e0::/48"), "eu-west"),
    ];

    private static readonly UpstreamOptions[] Regional =
    [
        Up("us", "192.0.2.1", region: "us-east"),
        Up("eu", "192.0.2.2", region: "eu-west"),
        Up("ap", "192.0.2.3", region: "ap-south"),
    ];

    [Fact]
    public void Latency_TheLongestClientNetworkWins_FromTheSource()
    {
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional);

        Assert.Equal(["192.0.2.2"], Addresses(Ask(book, "near.example.test", source: "10.250.1.2")));   // /24 eu-west beats /16 us-east
        Assert.Equal(["192.0.2.1"], Addresses(Ask(book, "near.example.test", source: "10.250.2.1")));   // only the /16
        Assert.Equal(["192.0.2.2"], Addresses(Ask(book, "near.example.test", source: "2001:db8:e0::9"))); // IPv6 clients too
    }

    [Fact]
    public void Latency_TheEcsAddressBeatsTheSource_AndTheScopeIsTheMatchedPrefix()
    {
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional);

        var eu = Ask(book, "near.example.test", source: "10.250.2.1", ecs: new ClientSubnetOption(32, IPAddress.Parse("10.250.1.2")));
        Assert.Equal(["192.0.2.2"], Addresses(eu)); // the ECS address (eu-west), not the source (us-east)
        var echo = Assert.IsType<ClientSubnetOption>(EchoedSubnet(eu));
        Assert.Equal(32, echo.SourceNetmask);
        Assert.Equal(24, echo.ScopeNetmask); // the matched /24
        Assert.Equal(IPAddress.Parse("10.250.1.2"), echo.Address);

        var us = Ask(book, "near.example.test", source: "10.250.1.2", ecs: new ClientSubnetOption(32, IPAddress.Parse("10.250.7.7")));
        Assert.Equal(["192.0.2.1"], Addresses(us));
        Assert.Equal(16, EchoedSubnet(us)!.ScopeNetmask);

        var v6 = Ask(book, "near.example.test", source: "10.250.2.1", ecs: new ClientSubnetOption(56, IPAddress.Parse("2001:db8:e0:100::")));
        Assert.Equal(["192.0.2.2"], Addresses(v6));
        Assert.Equal(48, EchoedSubnet(v6)!.ScopeNetmask);
    }

    [Fact]
    public void Latency_AClientInNoNetwork_GetsTheNodesRegion()
    {
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional, nodeRegion: "ap-south");

        Assert.Equal(["192.0.2.3"], Addresses(Ask(book, "near.example.test", source: "203.0.113.5")));
        var viaEcs = Ask(book, "near.example.test", source: "10.250.1.2", ecs: new ClientSubnetOption(24, IPAddress.Parse("198.51.100.0")));
        Assert.Equal(["192.0.2.3"], Addresses(viaEcs)); // the ECS address decides, even when the source is in a network
        Assert.NotNull(EchoedSubnet(viaEcs));
    }

    /// <summary>
    /// RFC 7871 7.2.1: a SCOPE PREFIX-LENGTH of 0 says the answer "is suitable for all addresses in FAMILY", and an
    /// ECS-aware resolver then caches it for all its clients. The node-region answer a client in no network gets did
    /// depend on the client (a 10.250.1/24 client gets eu-west), so its scope must not be 0: the resolver would hand the
    /// node's region to every client, the eu-west ones included, for the TTL.
    /// </summary>
    [Fact]
    public void Latency_TheNodeRegionAnswerForAClientInNoNetwork_IsNotScopedToEveryClient()
    {
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional, nodeRegion: "ap-south");

        var response = Ask(book, "near.example.test", ecs: new ClientSubnetOption(24, IPAddress.Parse("198.51.100.0")));

        Assert.Equal(["192.0.2.3"], Addresses(response));
        var scope = EchoedSubnet(response)!.ScopeNetmask;
        Assert.True(scope > 0, $"scope {scope}: a resolver may serve this ap-south answer to its 10.250.1/24 (eu-west) clients too");
    }

    /// <summary>
    /// RFC 7871 7.2.1: a scope longer than the source prefix says the prefix "was not specific enough". A client that
    /// sends only 10.250.0.0/16 matches the /16 (us-east), but 10.250.1/24 inside it answers eu-west: a scope of 16 tells the
    /// resolver the us-east answer holds for all of 10.250/16, so its 10.250.1/24 clients get us-east from its cache.
    /// </summary>
    [Fact]
    public void Latency_AnEcsPrefixWiderThanAMoreSpecificNetwork_GetsTheLongerScope()
    {
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional);

        var response = Ask(book, "near.example.test", ecs: new ClientSubnetOption(16, IPAddress.Parse("10.250.0.0")));

        Assert.Equal(["192.0.2.1"], Addresses(response));
        var scope = EchoedSubnet(response)!.ScopeNetmask;
        Assert.True(scope >= 24, $"scope {scope}: the answer is cached for all of 10.250/16, though 10.250.1/24 answers eu-west");
    }

    [Fact]
    public void Latency_AnUnhealthyRegion_CrossesToTheRegionThisNodeMeasuresNearest()
    {
        var views = new FakeViews().All("eu", false);
        views.Latency[("svc", "us")] = 80;
        views.Latency[("svc", "ap")] = 20;
        ZoneBook Fresh() => Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional, views);

        Assert.Equal(["192.0.2.3"], Addresses(Ask(Fresh(), "near.example.test", source: "10.250.1.2"))); // eu-west down: ap (20 ms) before us (80 ms)

        views.Latency[("svc", "us")] = 5;
        Assert.Equal(["192.0.2.1"], Addresses(Ask(Fresh(), "near.example.test", source: "10.250.1.2")));

        views.Latency.Remove(("svc", "us")); // unknown latency goes last
        views.Latency[("svc", "ap")] = 500;
        Assert.Equal(["192.0.2.3"], Addresses(Ask(Fresh(), "near.example.test", source: "10.250.1.2")));

        views.All("eu", true);
        Assert.Equal(["192.0.2.2"], Addresses(Ask(Fresh(), "near.example.test", source: "10.250.1.2"))); // back home
    }

    [Fact]
    public void Latency_AnUnhealthyNodeRegion_AlsoCrosses()
    {
        var views = new FakeViews().All("ap", false);
        views.Latency[("svc", "us")] = 150;
        views.Latency[("svc", "eu")] = 90;
        var book = Book([Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients)], Regional, views, nodeRegion: "ap-south");

        Assert.Equal(["192.0.2.2"], Addresses(Ask(book, "near.example.test", source: "203.0.113.5")));
    }

    [Fact]
    public void NonLatencyRecords_EchoTheSubnetWithScopeZero()
    {
        var book = Book([Aware("www", DnsPolicy.Failover), Aware("all", DnsPolicy.Multivalue), Static("fixed", "A", "192.0.2.99")], Regional);
        foreach (var name in new[] { "www.example.test", "all.example.test", "fixed.example.test", "nope.example.test" })
        {
            var response = Ask(book, name, source: "10.250.1.2", ecs: new ClientSubnetOption(32, IPAddress.Parse("10.250.1.2")));
            var echo = Assert.IsType<ClientSubnetOption>(EchoedSubnet(response));
            Assert.Equal(0, echo.ScopeNetmask);
            Assert.Equal(32, echo.SourceNetmask);
        }
    }

    // ---- names, CNAME, REFUSED, FORMERR, negative answers ----

    [Fact]
    public void Cname_InsideTheZone_IsFollowed_ToStaticAndHealthAwareTargets()
    {
        var views = new FakeViews().All("p", false);
        var book = Book(
            [
                Static("alias", "CNAME", "www.example.test."),
                Static("alias2", "CNAME", "fixed.example.test."),
                Static("near-alias", "CNAME", "near.example.test."),
                Static("outside", "CNAME", "target.example.com."),
                Static("fixed", "A", "192.0.2.99"),
                Aware("www", DnsPolicy.Failover),
                Aware("near", DnsPolicy.Latency, answers: 1, clients: Clients),
            ],
            [Up("p", "192.0.2.1", region: "us-east"), Up("b", "192.0.2.2", tier: 1, region: "eu-west")], views);

        var alias = Ask(book, "alias.example.test");
        Assert.Equal(ReturnCode.NoError, alias.ReturnCode);
        Assert.True(alias.IsAuthoritiveAnswer);
        Assert.Equal(DomainName.Parse("www.example.test"), Assert.IsType<CNameRecord>(alias.AnswerRecords[0]).CanonicalName);
        var a = Assert.IsType<ARecord>(Assert.Single(alias.AnswerRecords.Skip(1)));
        Assert.Equal(IPAddress.Parse("192.0.2.2"), a.Address); // the failover target's current answer (p is down)
        Assert.Equal(DomainName.Parse("www.example.test"), a.Name);

        var alias2 = Ask(book, "alias2.example.test");
        Assert.Equal(["192.0.2.99", "CName"], Addresses(alias2));

        var near = Ask(book, "near-alias.example.test", source: "198.51.100.1", ecs: new ClientSubnetOption(32, IPAddress.Parse("10.250.1.2")));
        Assert.Equal(["192.0.2.2", "CName"], Addresses(near)); // eu-west through the alias
        Assert.Equal(24, EchoedSubnet(near)!.ScopeNetmask); // the target's decision depended on the client

        var outside = Ask(book, "outside.example.test");
        Assert.Equal(ReturnCode.NoError, outside.ReturnCode);
        Assert.Equal("CName", Assert.Single(Addresses(outside))); // not followed out of the zone (no recursion)

        var asCname = Ask(book, "alias.example.test", RecordType.CName);
        Assert.IsType<CNameRecord>(Assert.Single(asCname.AnswerRecords));
    }

    [Fact]
    public void Cname_ToAMissingNameInTheZone_IsNxdomainWithTheAliasAndTheSoa()
    {
        var book = Book([Static("dangling", "CNAME", "gone.example.test."), Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")]);
        var answer = Ask(book, "dangling.example.test");
        Assert.Equal(ReturnCode.NxDomain, answer.ReturnCode); // RFC 6604: the rcode of the chain's last name
        Assert.IsType<CNameRecord>(Assert.Single(answer.AnswerRecords));
        Assert.IsType<SoaRecord>(Assert.Single(answer.AuthorityRecords));
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("www.example.com")]
    [InlineData("notexample.test")]
    [InlineData("test")]
    public void OutsideTheZones_IsRefused_WithoutAa(string name)
    {
        var book = Book([Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")]);

        var response = Ask(book, name);

        Assert.Equal(ReturnCode.Refused, response.ReturnCode);
        Assert.False(response.IsAuthoritiveAnswer);
        Assert.False(response.IsRecursionAllowed);
        Assert.Empty(response.AnswerRecords);
        Assert.Empty(response.AuthorityRecords);
    }

    [Fact]
    public void NamesAreMatchedCaseInsensitively_AsResolversUsing0x20Ask()
    {
        var book = Book([Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")]);

        var response = Ask(book, "FiXeD.ExAmPlE.TeSt");

        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.True(response.IsAuthoritiveAnswer);
        Assert.Equal(["192.0.2.99"], Addresses(response));
        Assert.Equal("FiXeD.ExAmPlE.TeSt", response.Questions[0].Name.ToString().TrimEnd('.')); // the question is echoed as asked
    }

    [Fact]
    public void TwoQuestions_AreAFormatError_AndAnotherOpcodeIsNotImplemented()
    {
        var book = Book([Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")]);
        var two = Query("fixed.example.test");
        two.Questions.Add(new DnsQuestion(DomainName.Parse("example.test"), RecordType.Soa, RecordClass.INet));

        var response = book.Answer(two, Resolver);
        Assert.Equal(ReturnCode.FormatError, response.ReturnCode);
        Assert.Empty(response.AnswerRecords);

        var none = new DnsMessage { TransactionID = 1 };
        Assert.Equal(ReturnCode.FormatError, book.Answer(none, Resolver).ReturnCode);

        var notify = Query("example.test", RecordType.Soa);
        notify.OperationCode = OperationCode.Notify;
        Assert.Equal(ReturnCode.NotImplemented, book.Answer(notify, Resolver).ReturnCode);
    }

    [Fact]
    public void NxdomainAndNodata_CarryTheGeneratedSoa_WithTheZoneTtl()
    {
        var book = Book([Static("fixed", "TXT", "v=1"), Static("deep.below", "TXT", "x")], [Up("a", "192.0.2.1")]);

        var nx = Ask(book, "nope.example.test");
        Assert.Equal(ReturnCode.NxDomain, nx.ReturnCode);
        Assert.True(nx.IsAuthoritiveAnswer);
        Assert.Empty(nx.AnswerRecords);
        var soa = Assert.IsType<SoaRecord>(Assert.Single(nx.AuthorityRecords));
        Assert.Equal(DomainName.Parse("example.test"), soa.Name);
        Assert.Equal(20, soa.TimeToLive); // min(ttl 20, minimum 20)
        Assert.Equal(20, soa.NegativeCachingTTL);
        Assert.Equal(DomainName.Parse("ns1.example.test"), soa.MasterName); // the first NS
        Assert.Equal(DomainName.Parse("hostmaster.example.test"), soa.ResponsibleName);
        Assert.Equal(42u, soa.SerialNumber); // the config generation

        Assert.Equal(ReturnCode.NxDomain, Ask(book, "a.nope.example.test").ReturnCode);

        var nodata = Ask(book, "fixed.example.test"); // has TXT, asked A
        Assert.Equal(ReturnCode.NoError, nodata.ReturnCode);
        Assert.True(nodata.IsAuthoritiveAnswer);
        Assert.Empty(nodata.AnswerRecords);
        Assert.Equal(20, Assert.IsType<SoaRecord>(Assert.Single(nodata.AuthorityRecords)).TimeToLive);

        var emptyNonTerminal = Ask(book, "below.example.test", RecordType.Txt);
        Assert.Equal(ReturnCode.NoError, emptyNonTerminal.ReturnCode);
        Assert.Empty(emptyNonTerminal.AnswerRecords);
        Assert.IsType<SoaRecord>(Assert.Single(emptyNonTerminal.AuthorityRecords));

        var positive = Ask(book, "fixed.example.test", RecordType.Txt);
        Assert.Equal(ReturnCode.NoError, positive.ReturnCode);
        Assert.Single(positive.AnswerRecords);
        Assert.Empty(positive.AuthorityRecords);
    }

    [Theory]
    [InlineData(300, 30, 30)] // the minimum is lower
    [InlineData(10, 30, 10)]  // the SOA's own TTL is lower
    public void NegativeAnswers_CarryTheSoa_WithTtlMinOfItsTtlAndMinimum(int soaTtl, int minimum, int expected)
    {
        var soa = new RecordOptions("@", "SOA", [$"ns1.example.test. dns.example.test. 2024010101 3600 600 86400 {minimum}"], TimeSpan.FromSeconds(soaTtl),
            DnsPolicy.Static, null, 1, [], 0);
        var book = Book([soa, Static("fixed", "TXT", "v=1")], [Up("a", "192.0.2.1")]);

        foreach (var (name, type, code) in new[] { ("nope.example.test", RecordType.A, ReturnCode.NxDomain), ("fixed.example.test", RecordType.A, ReturnCode.NoError) })
        {
            var response = Ask(book, name, type);
            Assert.Equal(code, response.ReturnCode);
            var negative = Assert.IsType<SoaRecord>(Assert.Single(response.AuthorityRecords));
            Assert.Equal(expected, negative.TimeToLive);
            Assert.Equal(minimum, negative.NegativeCachingTTL);
            Assert.Equal(2024010101u, negative.SerialNumber);
            Assert.Equal(DomainName.Parse("dns.example.test"), negative.ResponsibleName);
        }

        var asked = Assert.IsType<SoaRecord>(Assert.Single(Ask(book, "example.test", RecordType.Soa).AnswerRecords));
        Assert.Equal(soaTtl, asked.TimeToLive); // asked for directly: its own TTL
    }

    [Fact]
    public void Edns_IsAnsweredWithAnOptRecord_OnlyWhenAsked()
    {
        var book = Book([Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")]);

        var withEdns = book.Answer(Query("fixed.example.test", edns: true), Resolver);
        Assert.True(withEdns.IsEDnsEnabled);
        Assert.Null(EchoedSubnet(withEdns)); // no ECS asked, none echoed

        var without = book.Answer(Query("fixed.example.test"), Resolver);
        Assert.False(without.IsEDnsEnabled);
        Assert.Equal(4711, without.TransactionID);
    }

    [Fact]
    public void Any_IsAnsweredMinimally_WithOneRrset()
    {
        var book = Book([Static("multi", "A", "192.0.2.99"), Static("multi", "TXT", "v=1"), Static("multi", "MX", "10 mx.example.test.")], [Up("a", "192.0.2.1")]);

        var response = Ask(book, "multi.example.test", RecordType.Any);

        Assert.Equal(ReturnCode.NoError, response.ReturnCode);
        Assert.NotEmpty(response.AnswerRecords);
        Assert.Single(response.AnswerRecords.Select(r => r.RecordType).Distinct());
    }

    [Fact]
    public void TheMostSpecificZone_Answers()
    {
        var child = new ZoneOptions("eu.example.test", TimeSpan.FromSeconds(7), [Static("@", "NS", "ns1.eu.example.test."), Static("www", "A", "192.0.2.77")]);
        var book = Book([Static("fixed", "A", "192.0.2.99")], [Up("a", "192.0.2.1")], moreZones: [child]);

        Assert.Equal(["192.0.2.77"], Addresses(Ask(book, "www.eu.example.test")));
        var nx = Ask(book, "nope.eu.example.test");
        Assert.Equal(ReturnCode.NxDomain, nx.ReturnCode);
        var soa = Assert.IsType<SoaRecord>(Assert.Single(nx.AuthorityRecords));
        Assert.Equal(DomainName.Parse("eu.example.test"), soa.Name);
        Assert.Equal(7, soa.TimeToLive);
    }

    // ---- wildcards (RFC 4592) ----

    [Fact]
    public void Wildcard_AnswersANameThatDoesNotExist_OwnedByTheNameAsked()
    {
        var book = Book([Static("*", "TXT", "any"), Static("*.dev", "A", "192.0.2.77"), Aware("*.app", DnsPolicy.Failover), Static("host.dev", "A", "192.0.2.5")],
            [Up("p1", "192.0.2.1")]);

        var txt = Ask(book, "whatever.example.test", RecordType.Txt);
        Assert.Equal(ReturnCode.NoError, txt.ReturnCode);
        var record = Assert.IsType<TxtRecord>(Assert.Single(txt.AnswerRecords));
        Assert.Equal(DomainName.Parse("whatever.example.test"), record.Name);
        Assert.Equal(["any"], record.TextParts);

        // The closest encloser's own wildcard: dev's, not the apex's; deeper names too.
        var dev = Ask(book, "a.b.dev.example.test");
        Assert.Equal(["192.0.2.77"], Addresses(dev));
        Assert.Equal(DomainName.Parse("a.b.dev.example.test"), dev.AnswerRecords[0].Name);

        // A health-aware wildcard answers from the service's endpoints.
        var app = Ask(book, "tenant1.app.example.test");
        Assert.Equal(["192.0.2.1"], Addresses(app));
        Assert.Equal(DomainName.Parse("tenant1.app.example.test"), app.AnswerRecords[0].Name);
    }

    [Fact]
    public void Wildcard_NeverShadowsANameThatExists_AndAMissingTypeIsNodata()
    {
        var book = Book([Static("*", "TXT", "any"), Static("host.dev", "A", "192.0.2.5"), Static("www", "A", "192.0.2.9")], [Up("p1", "192.0.2.1")]);

        // www exists: a type it lacks is NODATA, not the wildcard's TXT.
        var www = Ask(book, "www.example.test", RecordType.Txt);
        Assert.Equal(ReturnCode.NoError, www.ReturnCode);
        Assert.Empty(www.AnswerRecords);

        // dev exists as an empty non-terminal (host.dev is below it): NODATA, and x.dev's closest encloser is dev,
        // which has no wildcard of its own: NXDOMAIN.
        Assert.Empty(Ask(book, "dev.example.test", RecordType.Txt).AnswerRecords);
        Assert.Equal(ReturnCode.NxDomain, Ask(book, "x.dev.example.test", RecordType.Txt).ReturnCode);

        // A wildcard name without the type asked: NODATA with the SOA.
        var nodata = Ask(book, "other.example.test", RecordType.A);
        Assert.Equal(ReturnCode.NoError, nodata.ReturnCode);
        Assert.Empty(nodata.AnswerRecords);
        Assert.IsType<SoaRecord>(Assert.Single(nodata.AuthorityRecords));
    }

    [Fact]
    public void ACnameToANameAWildcardCovers_IsFollowedIntoTheWildcard()
    {
        var book = Book([Static("*.dev", "A", "192.0.2.77"), Static("www", "CNAME", "build.dev.example.test.")], [Up("p1", "192.0.2.1")]);
        var r = Ask(book, "www.example.test");
        Assert.Equal(ReturnCode.NoError, r.ReturnCode);
        Assert.Equal(2, r.AnswerRecords.Count);
        var a = Assert.IsType<ARecord>(r.AnswerRecords[1]);
        Assert.Equal((DomainName.Parse("build.dev.example.test"), "192.0.2.77"), (a.Name, a.Address.ToString()));
    }
}
