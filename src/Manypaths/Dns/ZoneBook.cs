using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Manypaths.Config;

namespace Manypaths.Dns;

/// <summary>
/// The zones of one config generation and how a query is answered from them: authoritative (AA) for its zones,
/// REFUSED for any other name (no recursion, ever); NXDOMAIN for a name that does not exist and NODATA for a type it
/// does not have, both with the SOA in authority (negative TTL from the SOA's minimum); ANY answered minimally (one
/// RRset, RFC 8482); health-aware A/AAAA records made from a service's upstreams healthy by quorum
/// (<see cref="RecordPicker"/>); EDNS(0) answered, and a client subnet (ECS) echoed with its scope (RFC 7871).
/// Pure apart from the random source: tested without sockets.
/// </summary>
internal sealed class ZoneBook
{
    private readonly List<Zone> _zones;
    private readonly RecordPicker _picker;
    private readonly IEndpointViews _views;
    private readonly double _quorum;

    public ZoneBook(DnsOptions options, IReadOnlyDictionary<string, ServiceOptions> services, int serial, IEndpointViews views, double quorum, string? nodeRegion, Random? random = null, TimeProvider? time = null)
    {
        _picker = new RecordPicker(views, quorum, nodeRegion, random ?? Random.Shared, time ?? TimeProvider.System);
        _views = views;
        _quorum = quorum;
        _zones = options.Zones.Select(z => new Zone(z, services, serial)).OrderByDescending(z => z.Apex.LabelCount).ToList();
    }

    /// <summary>The answer to <paramref name="query"/> from a client at <paramref name="source"/>, and why (for the log and 'dns query').</summary>
    /// <param name="why">Gets the decision in words, when given (built only for the log and 'dns query').</param>
    public DnsMessage Answer(DnsMessage query, IPAddress source, System.Text.StringBuilder? why = null) => Answer(query, source, why, out _);

    /// <param name="reusable">Set when the same query bytes get the same answer for a short while: nothing random
    /// (weighted, multivalue) or client-dependent (latency) went into it, only static data and health (failover).</param>
    public DnsMessage Answer(DnsMessage query, IPAddress source, System.Text.StringBuilder? why, out bool reusable)
    {
        reusable = true;
        var response = query.CreateResponseInstance();
        response.IsRecursionAllowed = false;
        if (!query.IsQuery)
        {
            response.ReturnCode = ReturnCode.FormatError; // a response sent to us: the front end does not answer it
            why?.Append("not a query");
            return response;
        }

        if (query.OperationCode != OperationCode.Query || query.Questions.Count != 1)
        {
            response.ReturnCode = query.OperationCode != OperationCode.Query ? ReturnCode.NotImplemented : ReturnCode.FormatError;
            why?.Append("not a standard query with one question");
            return response;
        }

        var question = query.Questions[0];
        var ecs = query.IsEDnsEnabled ? query.EDnsOptions?.Options.OfType<ClientSubnetOption>().FirstOrDefault() : null;
        if (query.IsEDnsEnabled)
        {
            response.EDnsOptions = new OptRecord { UdpPayloadSize = 1232 };
        }

        var zone = _zones.FirstOrDefault(z => question.Name.IsEqualOrSubDomainOf(z.Apex));
        if (zone is null || question.RecordClass is not (RecordClass.INet or RecordClass.Any))
        {
            response.ReturnCode = ReturnCode.Refused;
            why?.Append($"{question.Name} is in none of this node's zones (no recursion)");
            return response;
        }

        response.IsAuthoritiveAnswer = true;
        // An ECS option with a source prefix of 0 says nothing about the client: use the packet's source.
        var client = ecs is { SourceNetmask: > 0 } ? ecs.Address : source;
        // The ECS scope: -1 until a record that depends on the client (latency) says how much of its address it used.
        var prefix = ecs is { SourceNetmask: > 0 } ? ecs.SourceNetmask : (byte)0;
        var scope = -1;
        var answered = Lookup(zone, question.Name, question.RecordType, new ClientAddress(client, prefix), response, why, ref scope, ref reusable);
        if (!answered)
        {
            response.AuthorityRecords.Add(zone.Soa.Negative);
        }

        if (ecs is not null)
        {
            // RFC 7871: echo family, source prefix and address; the scope says how much of it the answer depended on.
            response.EDnsOptions!.Options.Add(new ClientSubnetOption(ecs.SourceNetmask, (byte)Math.Max(0, scope), ecs.Address));
        }

        return response;
    }

    /// <summary>The answer this node gives now to NAME TYPE from <paramref name="client"/>, and why, with the views behind it.</summary>
    public DnsExplanation Explain(string name, string type, IPAddress client, string node)
    {
        var domain = DomainName.Parse(name.TrimEnd('.'));
        var recordType = Enum.TryParse<RecordType>(type, ignoreCase: true, out var t) ? t : RecordType.A;
        var query = new DnsMessage { TransactionID = 1 };
        query.Questions.Add(new DnsQuestion(domain, recordType, RecordClass.INet));
        var explained = new System.Text.StringBuilder();
        var response = Answer(query, client, explained);
        var why = explained.ToString();
        var endpoints = new List<DnsEndpointView>();
        var zone = _zones.FirstOrDefault(z => domain.IsEqualOrSubDomainOf(z.Apex));
        var sets = zone is null ? null : zone.Names.GetValueOrDefault(domain) ?? (zone.Exists(domain) ? null : zone.Wildcard(domain)?.Sets);
        if (sets is not null)
        {
            foreach (var set in sets.Where(s => s.Service is not null && (s.Type == recordType || recordType == RecordType.Any)))
            {
                foreach (var e in set.Endpoints)
                {
                    var views = _views.Views(set.Service!, e.Upstream);
                    endpoints.Add(new DnsEndpointView(e.Upstream, e.Address.ToString(), e.Tier, e.Region, QuorumHealth.Healthy(views, _quorum),
                        views.Select(v => new DnsNodeView(v.Node, v.Healthy)).ToList()));
                }
            }
        }

        return new DnsExplanation(domain.ToString(), recordType.ToString().ToUpperInvariant(), node, response.ReturnCode.ToString().ToLowerInvariant(),
            response.AnswerRecords.Select(r => r.ToString()).ToList(), why, _quorum, endpoints);
    }

    /// <returns>False when the answer is negative (NXDOMAIN or NODATA: the SOA goes in authority).</returns>
    private bool Lookup(Zone zone, DomainName name, RecordType type, ClientAddress client, DnsMessage response, System.Text.StringBuilder? why, ref int scope, ref bool reusable)
    {
        var owner = name;
        if (!zone.Names.TryGetValue(name, out var sets) && !zone.Exists(name) && zone.Wildcard(name) is { } wildcard)
        {
            // RFC 4592: a name that does not exist, below the closest existing name's '*', is answered from the '*'
            // (records re-owned to the name asked), including a NODATA for a type the wildcard does not have.
            owner = wildcard.Owner;
            sets = wildcard.Sets;
            why?.Append($"{name} matches the wildcard {owner}; ");
        }

        if (sets is null)
        {
            response.ReturnCode = ReturnCode.NxDomain;
            why?.Append(zone.Exists(name) ? $"{name} has no records (an empty non-terminal): NODATA" : $"{name} does not exist in {zone.Apex}: NXDOMAIN");
            if (zone.Exists(name))
            {
                response.ReturnCode = ReturnCode.NoError;
            }

            return false;
        }

        if (type != RecordType.CName && sets.FirstOrDefault(s => s.Type == RecordType.CName) is { } cname)
        {
            response.AnswerRecords.AddRange(Owned(cname.Static, owner, name));
            why?.Append($"{name} is an alias");
            if (cname.Static.Count > 0 && cname.Static[0] is CNameRecord { CanonicalName: var target } && target.IsEqualOrSubDomainOf(zone.Apex) && target != name)
            {
                // The target's records, or a wildcard's when the target does not exist but a '*' covers it (RFC 4592).
                var targetSets = zone.Names.GetValueOrDefault(target) ?? (zone.Exists(target) ? null : zone.Wildcard(target)?.Sets);
                if (targetSets is null && !zone.Exists(target))
                {
                    response.ReturnCode = ReturnCode.NxDomain; // RFC 6604: the rcode is the chain's last name's
                    response.AuthorityRecords.Add(zone.Soa.Negative);
                    return true;
                }

                foreach (var set in targetSets?.Where(s => s.Type == type) ?? [])
                {
                    reusable &= set.Policy is DnsPolicy.Static or DnsPolicy.Failover;
                    response.AnswerRecords.AddRange(Owned(_picker.Records(set, client, null, ref scope), set.Name, target));
                }
            }

            return true;
        }

        var matching = type == RecordType.Any ? sets.Take(1) : sets.Where(s => s.Type == type);
        var any = false;
        foreach (var set in matching)
        {
            reusable &= set.Policy is DnsPolicy.Static or DnsPolicy.Failover;
            response.AnswerRecords.AddRange(Owned(_picker.Records(set, client, why, ref scope), owner, name));
            any = true;
        }

        if (!any)
        {
            why?.Append($"{name} has no {type} records: NODATA");
        }

        return any;
    }

    /// <summary>The records as they are, or (synthesised from a wildcard) the same data owned by the name asked.</summary>
    private static IEnumerable<DnsRecordBase> Owned(IEnumerable<DnsRecordBase> records, DomainName owner, DomainName asked) =>
        owner.Equals(asked) ? records : records.Select(r => r switch
        {
            ARecord a => new ARecord(asked, a.TimeToLive, a.Address),
            AaaaRecord a => new AaaaRecord(asked, a.TimeToLive, a.Address),
            CNameRecord c => new CNameRecord(asked, c.TimeToLive, c.CanonicalName),
            TxtRecord t => new TxtRecord(asked, t.TimeToLive, t.TextParts),
            MxRecord m => new MxRecord(asked, m.TimeToLive, m.Preference, m.ExchangeDomainName),
            SrvRecord v => new SrvRecord(asked, v.TimeToLive, v.Priority, v.Weight, v.Port, v.Target),
            NsRecord n => new NsRecord(asked, n.TimeToLive, n.NameServer),
            _ => (DnsRecordBase)r,
        });

    /// <summary>One zone: its apex, SOA, and every record set by owner name.</summary>
    private sealed class Zone
    {
        public Zone(ZoneOptions options, IReadOnlyDictionary<string, ServiceOptions> services, int serial)
        {
            Apex = DomainName.Parse(options.Name);
            var ttl = (int)options.Ttl.TotalSeconds;
            foreach (var group in options.Records.GroupBy(r => (Name: Owner(r.Name), Type: Parse(r.Type))))
            {
                var first = group.First();
                var set = new RecordSet(group.Key.Name, group.Key.Type, (int)(first.Ttl ?? options.Ttl).TotalSeconds, first.Policy, first.Answers,
                    first.Clients, first.Policy == DnsPolicy.Static ? [] : Endpoints(services[first.Service!], group.Key.Type),
                    group.SelectMany(r => r.Values.Select(v => Static(group.Key.Name, group.Key.Type, (int)(r.Ttl ?? options.Ttl).TotalSeconds, v))).ToList(),
                    first.Service);
                if (!Names.TryGetValue(set.Name, out var sets))
                {
                    Names[set.Name] = sets = [];
                }

                sets.Add(set);
            }

            var soaSet = Names.GetValueOrDefault(Apex)?.FirstOrDefault(s => s.Type == RecordType.Soa);
            if (soaSet is { Static.Count: > 0 } && soaSet.Static[0] is SoaRecord soa)
            {
                Soa = new SoaInfo(soa);
            }
            else
            {
                var nsSet = Names.GetValueOrDefault(Apex)?.FirstOrDefault(s => s.Type == RecordType.Ns);
                var ns = (nsSet is { Static.Count: > 0 } ? nsSet.Static[0] as NsRecord : null)?.NameServer ?? Apex;
                var generated = new SoaRecord(Apex, ttl, ns, DomainName.Parse("hostmaster." + options.Name), (uint)serial, 3600, 600, 86400, ttl);
                Soa = new SoaInfo(generated);
                if (!Names.TryGetValue(Apex, out var apexSets))
                {
                    Names[Apex] = apexSets = [];
                }

                apexSets.Add(new RecordSet(Apex, RecordType.Soa, ttl, DnsPolicy.Static, 1, [], [], [generated], null));
            }

            foreach (var n in Names.Keys)
            {
                for (var parent = n; parent.LabelCount > Apex.LabelCount; parent = parent.GetParentName())
                {
                    _existing.Add(parent);
                }

                if (n.Labels[0] == "*")
                {
                    _wildcards[n.GetParentName()] = (n, Names[n]);
                }
            }

            DomainName Owner(string name) => name == "@" ? Apex : DomainName.Parse($"{name}.{options.Name}");
        }

        private readonly HashSet<DomainName> _existing = [];

        /// <summary>Wildcard record sets by the name they are under ('*.dev.example.test' under 'dev.example.test').</summary>
        private readonly Dictionary<DomainName, (DomainName Owner, List<RecordSet> Sets)> _wildcards = [];

        /// <summary>
        /// The wildcard that answers for <paramref name="name"/> (which does not exist): the one directly under its
        /// closest encloser, the longest existing ancestor (RFC 4592 3.3.1), or null when that has none.
        /// </summary>
        public (DomainName Owner, List<RecordSet> Sets)? Wildcard(DomainName name)
        {
            if (_wildcards.Count == 0)
            {
                return null;
            }

            for (var encloser = name.GetParentName(); encloser.LabelCount >= Apex.LabelCount; encloser = encloser.GetParentName())
            {
                if (Exists(encloser))
                {
                    return _wildcards.TryGetValue(encloser, out var wildcard) ? wildcard : null;
                }
            }

            return null;
        }

        public DomainName Apex { get; }

        public SoaInfo Soa { get; }

        public Dictionary<DomainName, List<RecordSet>> Names { get; } = [];

        /// <summary>The name has records, or names below it do (an empty non-terminal answers NODATA, not NXDOMAIN).</summary>
        public bool Exists(DomainName name) => Names.ContainsKey(name) || _existing.Contains(name);
    }

    /// <summary>The SOA and the record a negative answer carries: its TTL is the lesser of the SOA's TTL and minimum.</summary>
    private sealed class SoaInfo(SoaRecord soa)
    {
        public SoaRecord Negative { get; } = new(soa.Name, (int)Math.Min((uint)soa.TimeToLive, soa.NegativeCachingTTL), soa.MasterName, soa.ResponsibleName,
            soa.SerialNumber, soa.RefreshInterval, soa.RetryInterval, soa.ExpireInterval, soa.NegativeCachingTTL);
    }

    private static List<DnsEndpoint> Endpoints(ServiceOptions service, RecordType type)
    {
        var family = type == RecordType.Aaaa ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        return service.Upstreams.Select(u => (u, a: DnsReader.DnsAddress(u)))
            .Where(x => x.a?.AddressFamily == family)
            .Select(x => new DnsEndpoint(x.u.Name, x.a!, x.u.Tier, x.u.Region, x.u.Weight)).ToList();
    }

    internal static RecordType Parse(string type) => type switch
    {
        "A" => RecordType.A,
        "AAAA" => RecordType.Aaaa,
        "NS" => RecordType.Ns,
        "CNAME" => RecordType.CName,
        "TXT" => RecordType.Txt,
        "MX" => RecordType.Mx,
        "SRV" => RecordType.Srv,
        "SOA" => RecordType.Soa,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported record type"),
    };

    private static DnsRecordBase Static(DomainName name, RecordType type, int ttl, string value)
    {
        var p = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return type switch
        {
            RecordType.A => new ARecord(name, ttl, IPAddress.Parse(value)),
            RecordType.Aaaa => new AaaaRecord(name, ttl, IPAddress.Parse(value)),
            RecordType.Ns => new NsRecord(name, ttl, DomainName.Parse(value)),
            RecordType.CName => new CNameRecord(name, ttl, DomainName.Parse(value)),
            RecordType.Txt => new TxtRecord(name, ttl, value),
            RecordType.Mx => new MxRecord(name, ttl, ushort.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), DomainName.Parse(p[1])),
            RecordType.Srv => new SrvRecord(name, ttl, U(p[0]), U(p[1]), U(p[2]), DomainName.Parse(p[3])),
            RecordType.Soa => new SoaRecord(name, ttl, DomainName.Parse(p[0]), DomainName.Parse(p[1]), UI(p[2]), I(p[3]), I(p[4]), I(p[5]), I(p[6])),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };

        static ushort U(string s) => ushort.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        static uint UI(string s) => uint.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        static int I(string s) => (int)Math.Min(int.MaxValue, uint.Parse(s, System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>All records of one owner name and type: fixed values, or a health-aware set over a service's endpoints.</summary>
/// <summary>Who asked: the ECS address (else the packet's source) and the ECS source prefix (0 without one).</summary>
internal readonly record struct ClientAddress(IPAddress Address, byte SourcePrefix);

internal sealed record RecordSet(
    DomainName Name,
    RecordType Type,
    int Ttl,
    DnsPolicy Policy,
    int Answers,
    IReadOnlyList<(IPNetwork Network, string Region)> Clients,
    IReadOnlyList<DnsEndpoint> Endpoints,
    IReadOnlyList<DnsRecordBase> Static,
    string? Service)
{
    /// <summary>The picker's reuse of this set's healthy endpoints (<see cref="RecordPicker"/>).</summary>
    internal PickCache Cache { get; } = new();
}

/// <summary>A record set's healthy endpoints as last worked out, and when (a TimeProvider timestamp), swapped whole.</summary>
internal sealed class PickCache
{
    private volatile Entry? _entry;

    public Entry? Current => _entry;

    public void Set(Entry entry) => _entry = entry;

    internal sealed record Entry(long At, List<DnsEndpoint> Pool, int HealthyCount, int Tier, DnsRecordBase[] Failover);
}
