namespace Manypaths.Dns;

/// <summary>What 'manypaths dns query' shows: the answer a node gives now, and why (GET /api/dns/query).</summary>
/// <param name="Status">The DNS return code (noerror, nxdomain, refused).</param>
/// <param name="Answers">The answer records, as dig prints them.</param>
/// <param name="Why">The policy's decision in words.</param>
/// <param name="Endpoints">For a health-aware record: each endpoint, how each node heard sees it, and the quorum verdict.</param>
internal sealed record DnsExplanation(
    string Name,
    string Type,
    string Node,
    string Status,
    IReadOnlyList<string> Answers,
    string Why,
    double Quorum,
    IReadOnlyList<DnsEndpointView> Endpoints);

internal sealed record DnsEndpointView(string Upstream, string Address, int Tier, string? Region, bool HealthyByQuorum, IReadOnlyList<DnsNodeView> Views);

internal sealed record DnsNodeView(string Node, bool Healthy);
