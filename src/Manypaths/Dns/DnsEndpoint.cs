using System.Net;

namespace Manypaths.Dns;

/// <summary>One upstream as a health-aware record answers it: its address, tier, region and weight.</summary>
internal sealed record DnsEndpoint(string Upstream, IPAddress Address, int Tier, string? Region, int Weight);
