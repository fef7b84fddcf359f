using System.Net;
using ARSoft.Tools.Net.Dns;
using Manypaths.Config;

namespace Manypaths.Dns;

/// <summary>
/// Turns a record set into the records of one answer. Static sets answer their values. Health-aware sets answer the
/// service's endpoints that are healthy by quorum (<see cref="QuorumHealth"/>):
/// <list type="bullet">
/// <item>failover: every healthy endpoint of the best tier that has one;</item>
/// <item>weighted: 'answers' endpoints (default 1) drawn by weight among the healthy;</item>
/// <item>multivalue: up to 'answers' (default 8) healthy endpoints, shuffled;</item>
/// <item>latency: the healthy endpoints of the client's region (its ECS address or source, through 'clients'; else
/// this node's region), else of the next region by this node's measured latency.</item>
/// </list>
/// When nothing is healthy every endpoint counts as healthy (Route 53's rule): never an empty answer by accident.
/// </summary>
internal sealed class RecordPicker(IEndpointViews views, double quorum, string? nodeRegion, Random random, TimeProvider time)
{
    /// <param name="why">Gets the decision in words, when given (built only for the log and 'dns query').</param>
    /// <param name="scope">The ECS scope: set by a record that depends on the client (latency), left alone otherwise.</param>
    public IEnumerable<DnsRecordBase> Records(RecordSet set, ClientAddress client, System.Text.StringBuilder? why, ref int scope)
    {
        if (set.Policy == DnsPolicy.Static)
        {
            why?.Append(set.Name).Append(' ').Append(set.Type).Append(": static");
            return set.Static;
        }

        var entry = Healthy(set);
        var (pool, healthyCount) = (entry.Pool, entry.HealthyCount);
        var note = why is null ? "" : healthyCount > 0 ? $"{healthyCount} of {set.Endpoints.Count} healthy by quorum" : $"none of {set.Endpoints.Count} healthy by quorum: answering them all (Route 53's rule)";
        List<DnsEndpoint> chosen;
        switch (set.Policy)
        {
            case DnsPolicy.Failover:
                why?.Append($"failover: tier {entry.Tier}; {note}");
                return entry.Failover; // the same records for every client until health changes: built once

            case DnsPolicy.Weighted:
                chosen = DrawByWeight(pool, set.Answers);
                why?.Append($"weighted: {set.Answers} drawn by weight; {note}");
                break;
            case DnsPolicy.Latency:
                var (region, bits) = ClientRegion(set, client);
                scope = Math.Max(scope, bits);
                chosen = NearestRegion(set, pool, region, out var served);
                why?.Append($"latency: client region {region ?? "unknown"}, answered from {served ?? "any"}; {note}");
                break;
            default:
                chosen = pool.OrderBy(_ => random.Next()).Take(set.Answers).ToList();
                why?.Append($"multivalue: up to {set.Answers}; {note}");
                break;
        }

        return chosen.Select(e => Record(set, e));
    }

    /// <summary>How long a set's healthy endpoints are reused: health changes reach answers this much later at most.</summary>
    public static readonly TimeSpan Reuse = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The set's endpoints healthy by quorum (all of them when none is: Route 53's rule), how many were healthy, and
    /// the failover answer, worked out at most every <see cref="Reuse"/>: the views are the same for every query in
    /// between, and recomputing them per query cost more than answering (dns-bench).
    /// </summary>
    private PickCache.Entry Healthy(RecordSet set)
    {
        var now = time.GetTimestamp();
        if (set.Cache.Current is { } c && time.GetElapsedTime(c.At, now) < Reuse)
        {
            return c;
        }

        var healthy = set.Endpoints.Where(e => QuorumHealth.Healthy(views.Views(set.Service!, e.Upstream), quorum)).ToList();
        var pool = healthy.Count > 0 ? healthy : set.Endpoints.ToList();
        var tier = pool.Min(e => e.Tier);
        var entry = new PickCache.Entry(now, pool, healthy.Count, tier, pool.Where(e => e.Tier == tier).Select(e => Record(set, e)).ToArray());
        set.Cache.Set(entry);
        return entry;
    }

    private static DnsRecordBase Record(RecordSet set, DnsEndpoint e) => set.Type == RecordType.Aaaa
        ? new AaaaRecord(set.Name, set.Ttl, e.Address)
        : new ARecord(set.Name, set.Ttl, e.Address);

    private List<DnsEndpoint> DrawByWeight(List<DnsEndpoint> pool, int count)
    {
        var left = pool.ToList();
        var result = new List<DnsEndpoint>();
        while (result.Count < count && left.Count > 0)
        {
            var total = left.Sum(e => e.Weight);
            var x = random.Next(total);
            var i = 0;
            while (x >= left[i].Weight)
            {
                x -= left[i].Weight;
                i++;
            }

            result.Add(left[i]);
            left.RemoveAt(i);
        }

        return result;
    }

    /// <summary>
    /// The region of the longest client network holding the address, and the ECS scope of that answer (RFC 7871
    /// 7.2.1): the longest prefix of every configured network that overlaps the client's subnet (a more specific
    /// network inside it may answer differently), and at least the subnet's own prefix when none holds the address
    /// (the node-region answer must not be cached for every client).
    /// </summary>
    private (string? Region, byte Bits) ClientRegion(RecordSet set, ClientAddress client)
    {
        string? region = null;
        var matched = -1;
        var scope = 0;
        foreach (var (network, name) in set.Clients)
        {
            if (network.Contains(client.Address) && network.PrefixLength > matched)
            {
                (region, matched) = (name, network.PrefixLength);
            }

            if (network.BaseAddress.AddressFamily == client.Address.AddressFamily && client.SourcePrefix > 0
                && (network.Contains(client.Address) || new IPNetwork(Mask(client.Address, client.SourcePrefix), client.SourcePrefix).Contains(network.BaseAddress)))
            {
                scope = Math.Max(scope, network.PrefixLength);
            }
        }

        scope = Math.Max(scope, region is null ? client.SourcePrefix : matched);
        return (region ?? nodeRegion, (byte)scope);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }

    private List<DnsEndpoint> NearestRegion(RecordSet set, List<DnsEndpoint> pool, string? region, out string? served)
    {
        var mine = pool.Where(e => e.Region == region).ToList();
        if (mine.Count > 0)
        {
            served = region;
            return mine.Take(set.Answers).ToList();
        }

        // The next region by this node's measured latency to its endpoints (unknown latencies last).
        var next = pool.GroupBy(e => e.Region)
            .OrderBy(g => g.Select(e => views.LatencyMs(set.Service!, e.Upstream)).Where(ms => !double.IsNaN(ms)).DefaultIfEmpty(double.MaxValue).Min())
            .First();
        served = next.Key;
        return next.Take(set.Answers).ToList();
    }
}
