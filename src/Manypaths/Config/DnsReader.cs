using System.Net;
using System.Net.Sockets;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Reads 'dns': listen, quorum and zones with their records, every mistake with its place.</summary>
internal sealed class DnsReader(ConfigErrors errors, IReadOnlyDictionary<string, YamlNode> nodes, IReadOnlyDictionary<string, ServiceOptions> services)
{
    public static readonly string[] Types = ["A", "AAAA", "NS", "CNAME", "TXT", "MX", "SRV", "SOA"];

    /// <summary>The records that may be health-aware: the addresses of a service's upstreams.</summary>
    private static readonly string[] AddressTypes = ["A", "AAAA"];

    public DnsOptions? Read(YamlMap? map)
    {
        if (map is null)
        {
            return null;
        }

        map.AllowOnly("listen", "quorum", "zones");
        var listen = ListenReader.Read(map, errors, nodes, required: true);
        var zones = new List<ZoneOptions>();
        var zonesMap = map.Map("zones");
        if (zonesMap is null)
        {
            errors.Add(map.Raw("zones") ?? map.Node, $"{YamlMap.Capitalize(map.Where)} needs 'zones': at least one zone with its records.");
        }

        if (zonesMap is not null && !zonesMap.Entries().Any())
        {
            errors.Add(zonesMap.Node, $"{YamlMap.Capitalize(map.Where)} has no zones: give at least one zone with its records.");
        }

        foreach (var (name, keyNode, value) in zonesMap?.Entries() ?? [])
        {
            var zoneName = name.TrimEnd('.').ToLowerInvariant();
            if (!IsDomainName(zoneName))
            {
                errors.Add(keyNode, $"'{name}' is not a valid zone name: use labels of letters, digits and '-' separated by dots, such as example.test.");
                continue;
            }

            if (YamlMap.IsNull(value))
            {
                errors.Add(keyNode, $"Zone '{zoneName}' is empty: give it 'records' (at least an NS record at \"@\").");
            }
            else if (YamlMap.From(value, errors, $"zone '{zoneName}'") is { } zone)
            {
                zones.Add(ReadZone(zoneName, zone));
            }
        }

        return listen is null ? null : new DnsOptions { Listen = listen, Quorum = ReadQuorum(map, "quorum"), Zones = zones };
    }

    /// <summary>A quorum: a share above 0, such as 50% or 0.5 (cluster.quorum and dns.quorum).</summary>
    public static double? ReadQuorum(YamlMap map, string key)
    {
        if (map.Scalar(key) is not { } s)
        {
            return null;
        }

        if (ValueParsers.TryParseShare(s.Value, out var share) && share > 0)
        {
            return share;
        }

        map.Errors.Add(s, $"'{key}' in {map.Where} must be a share above 0 and at most 100%, such as 50% or 0.5, not '{s.Value}'.");
        return null;
    }

    private ZoneOptions ReadZone(string zone, YamlMap map)
    {
        map.AllowOnly("ttl", "records");
        var ttl = map.Duration("ttl", TimeSpan.FromSeconds(1)) ?? TimeSpan.FromSeconds(60);
        var records = new List<RecordOptions>();
        var list = map.List("records");
        if (list is null)
        {
            errors.Add(map.Raw("records") ?? map.Node, $"Zone '{zone}' needs 'records': a list such as {{ name: www, type: A, values: [192.0.2.1] }}.");
        }

        foreach (var item in list?.Children ?? [])
        {
            if (YamlMap.FromItem(item, errors, $"a record of zone '{zone}'") is { } r && ReadRecord(zone, r) is { } record)
            {
                records.Add(record);
            }
        }

        if (!records.Any(r => r.Type == "NS" && r.Name == "@"))
        {
            errors.Add(map.Raw("records") ?? map.Node, $"Zone '{zone}' has no NS record at its apex (name: \"@\"): list the nodes that answer for it.");
        }

        return new ZoneOptions(zone, ttl, records);
    }

    private RecordOptions? ReadRecord(string zone, YamlMap r)
    {
        r.AllowOnly("name", "type", "values", "ttl", "policy", "service", "answers", "clients");
        var nameNode = r.Scalar("name", required: true);
        var name = (nameNode?.Value ?? "@").TrimEnd('.').ToLowerInvariant();
        if (nameNode is not null && name.Contains('*') && !IsWildcard(name))
        {
            errors.Add(nameNode, $"'{nameNode.Value}': a wildcard is a whole '*' label, leftmost and only once (RFC 4592): \"*\" or \"*.dev\", not '{name}'.");
            return null;
        }

        if (nameNode is not null && name != "@" && !IsWildcard(name) && !IsDomainName(name))
        {
            errors.Add(nameNode, $"'{nameNode.Value}' is not a valid record name: a label such as www, a relative name such as a.b, \"*\" for a wildcard, or \"@\" for the zone apex.");
            return null;
        }

        var typeNode = r.Scalar("type", required: true);
        var type = typeNode?.Value?.ToUpperInvariant() ?? "";
        if (typeNode is not null && !Types.Contains(type))
        {
            errors.Add(typeNode, $"'type' in {r.Where} must be one of {string.Join(", ", Types)}, not '{typeNode.Value}'.");
            return null;
        }

        var policy = ReadPolicy(r);
        var values = new List<string>();
        if (policy == DnsPolicy.Static)
        {
            var raw = r.Raw("values");
            var items = raw is YamlSequenceNode seq ? seq.Children : raw is null ? [] : (IEnumerable<YamlNode>)[raw];
            foreach (var item in items)
            {
                var text = (item as YamlScalarNode)?.Value ?? "";
                if (CheckValue(type, text) is { } problem)
                {
                    errors.Add(item, $"'{text}' is not a valid {type} value: {problem}.");
                }
                else
                {
                    values.Add(text);
                }
            }

            if (raw is YamlSequenceNode { Children.Count: 0 } empty)
            {
                errors.Add(empty, $"The {type} record '{name}' of zone '{zone}' has an empty 'values' list: give at least one value.");
            }

            if (raw is null && typeNode is not null)
            {
                errors.Add(r.Node, $"The {type} record '{name}' of zone '{zone}' needs 'values' (or a 'policy' with a 'service').");
            }

            foreach (var key in (string[])["service", "answers", "clients"])
            {
                if (r.Raw(key) is { } extra)
                {
                    errors.Add(extra, $"'{key}' in {r.Where} applies only to a record with a policy (failover, weighted, latency, multivalue).");
                }
            }
        }
        else
        {
            if (!AddressTypes.Contains(type) && typeNode is not null)
            {
                errors.Add(typeNode, $"A record with 'policy: {policy.ToString().ToLowerInvariant()}' must be of type A or AAAA (the addresses of a service's upstreams), not {type}.");
            }

            if (r.Raw("values") is { } v)
            {
                errors.Add(v, $"A record with a policy takes its addresses from its 'service', not from 'values'.");
            }

            var serviceNode = r.Scalar("service", required: true);
            if (serviceNode?.Value is not { } serviceName)
            {
                return null;
            }

            if (!services.TryGetValue(serviceName, out var service))
            {
                var hint = Spelling.Closest(serviceName, services.Keys);
                errors.Add(serviceNode, $"The record '{name}' of zone '{zone}' answers for service '{serviceName}', which is not declared under 'services'.{(hint is null ? "" : $" Did you mean '{hint}'?")}");
                return null;
            }

            var family = type == "AAAA" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
            var without = service.Upstreams.Where(u => DnsAddress(u)?.AddressFamily != family).Select(u => u.Name).ToList();
            if (without.Count > 0)
            {
                errors.Add(serviceNode, $"The {type} record '{name}' of zone '{zone}' answers with the addresses of service '{serviceName}', but upstream(s) {string.Join(", ", without)} have no {(type == "AAAA" ? "IPv6" : "IPv4")} address: their url/address host is not an IP literal of that family. Give them 'dns_address:'.");
            }
        }

        var clients = ReadClients(r, policy);
        var answers = r.Int("answers", 1, 64) ?? (policy == DnsPolicy.Weighted ? 1 : 8);
        return new RecordOptions(name, type, values, r.Duration("ttl", TimeSpan.FromSeconds(1)), policy, r.String("service"), answers, clients, (int)r.Node.Start.Line);
    }

    private DnsPolicy ReadPolicy(YamlMap r)
    {
        var s = r.Scalar("policy");
        switch (s?.Value)
        {
            case null:
                return DnsPolicy.Static;
            case "failover":
                return DnsPolicy.Failover;
            case "weighted":
                return DnsPolicy.Weighted;
            case "latency":
                return DnsPolicy.Latency;
            case "multivalue":
                return DnsPolicy.Multivalue;
            default:
                errors.Add(s, $"'policy' in {r.Where} must be failover, weighted, latency or multivalue, not '{s.Value}'.");
                return DnsPolicy.Failover;
        }
    }

    private List<(IPNetwork, string)> ReadClients(YamlMap r, DnsPolicy policy)
    {
        var result = new List<(IPNetwork, string)>();
        var map = r.Map("clients");
        if (map is null)
        {
            return result;
        }

        if (policy != DnsPolicy.Latency)
        {
            errors.Add(map.Node, $"'clients' in {r.Where} applies only to 'policy: latency'.");
        }

        foreach (var (cidr, keyNode, value) in map.Entries())
        {
            if (!IPNetwork.TryParse(cidr, out var network))
            {
                errors.Add(keyNode, $"'{cidr}' is not a network in CIDR form such as 192.0.2.0/24 or 2001:db8::/32.");
                continue;
            }

            if ((value as YamlScalarNode)?.Value is { Length: > 0 } region)
            {
                result.Add((network, region));
            }
            else
            {
                errors.Add(value, $"The region for clients in {cidr} must be a name such as us-east.");
            }
        }

        return result;
    }

    /// <summary>The address DNS answers for an upstream: 'dns_address', else its host when that is an IP literal.</summary>
    public static IPAddress? DnsAddress(UpstreamOptions u) =>
        u.DnsAddress ?? (IPAddress.TryParse(u.Url.Host.Trim('[', ']'), out var ip) ? ip : null);

    /// <summary>Why a value cannot be served as <paramref name="type"/>, or null when it can.</summary>
    internal static string? CheckValue(string type, string text)
    {
        string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (type)
        {
            case "A":
                return IsStrictIPv4(text) ? null : "an IPv4 address such as 192.0.2.1";
            case "AAAA":
                return IPAddress.TryParse(text, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? null : "an IPv6 address such as 2001:db8::1";
            case "NS" or "CNAME":
                return IsDomainName(text.TrimEnd('.')) ? null : "a host name such as ns1.example.test (a trailing dot is allowed)";
            case "TXT":
                return text.Length <= 4000 ? null : "at most 4,000 characters";
            case "MX":
                return parts.Length == 2 && ushort.TryParse(parts[0], out _) && IsDomainName(parts[1].TrimEnd('.')) ? null : "a preference and a host, such as \"10 mail.example.test.\"";
            case "SRV":
                return parts.Length == 4 && ushort.TryParse(parts[0], out _) && ushort.TryParse(parts[1], out _) && ushort.TryParse(parts[2], out _) && IsDomainName(parts[3].TrimEnd('.'))
                    ? null : "priority, weight, port and target, such as \"10 5 443 www.example.test.\"";
            case "SOA":
                return parts.Length == 7 && IsDomainName(parts[0].TrimEnd('.')) && IsDomainName(parts[1].TrimEnd('.')) && parts[2..].All(p => uint.TryParse(p, out _))
                    ? null : "mname rname serial refresh retry expire minimum, such as \"ns1.example.test. admin.example.test. 1 3600 600 86400 20\"";
            default:
                return "an unknown type";
        }
    }

    /// <summary>Four dotted decimal parts: .NET also takes "127.1" or "192.0.2" as addresses, which hides typos.</summary>
    internal static bool IsStrictIPv4(string text) =>
        text.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) <= 255);

    /// <summary>"*", or "*." and a relative name without another '*'.</summary>
    private static bool IsWildcard(string name) => name == "*" || (name.StartsWith("*.", StringComparison.Ordinal) && IsDomainName(name[2..]));

    internal static bool IsDomainName(string name) =>
        name.Length is > 0 and <= 253 && name.Split('.').All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') && l[0] != '-');
}
