namespace Manypaths.Config;

/// <summary>'dns': the zones every node answers for, authoritatively, from the cluster's own health data.</summary>
public sealed record DnsOptions
{
    /// <summary>UDP and TCP, one address for every node or one per node.</summary>
    public required ListenAddresses Listen { get; init; }

    /// <summary>Share of the reachable nodes that must see an endpoint healthy (null: cluster.quorum).</summary>
    public double? Quorum { get; init; }

    public required IReadOnlyList<ZoneOptions> Zones { get; init; }
}

/// <param name="Name">The zone's apex, lower case, without the trailing dot ("example.test").</param>
/// <param name="Ttl">The default TTL of its records, and the negative TTL of a generated SOA.</param>
public sealed record ZoneOptions(string Name, TimeSpan Ttl, IReadOnlyList<RecordOptions> Records);

public enum DnsPolicy
{
    /// <summary>Fixed values.</summary>
    Static,

    /// <summary>Every healthy endpoint of the best tier that has one.</summary>
    Failover,

    /// <summary>Random by weight among healthy endpoints.</summary>
    Weighted,

    /// <summary>The client's region (ECS, else the source address, through 'clients'), else the nearest healthy.</summary>
    Latency,

    /// <summary>Up to 'answers' healthy endpoints, shuffled.</summary>
    Multivalue,
}

/// <summary>One record (set) of a zone: static values, or a health-aware set made from a service's upstreams.</summary>
/// <param name="Name">Relative to the zone ("@" for the apex), lower case.</param>
/// <param name="Type">A, AAAA, NS, CNAME, TXT, MX, SRV or SOA.</param>
/// <param name="Clients">Latency policy: client CIDR to region.</param>
public sealed record RecordOptions(
    string Name,
    string Type,
    IReadOnlyList<string> Values,
    TimeSpan? Ttl,
    DnsPolicy Policy,
    string? Service,
    int Answers,
    IReadOnlyList<(System.Net.IPNetwork Network, string Region)> Clients,
    int Line);
