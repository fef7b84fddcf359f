using System.Net;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>
/// Addresses that two listeners would both bind: two services (or a service and the admin API) of one node, or
/// the same address used by two nodes that share a host. Nodes share a host when their mesh addresses (else their
/// admin addresses) are on the same IP; every loopback address counts as one host. Linear in the number of
/// listeners: a claim is looked up by address and by port, never by a scan.
/// </summary>
internal sealed class ListenClashes(ConfigErrors errors, IReadOnlyDictionary<string, YamlNode> ownerMarks)
{
    private sealed record Claim(string Node, string Owner, string Key);

    /// <summary>The mark key of 'dns.listen' (under the listener marks: 'listener:dns' cannot be a listener's name, which has no colon).</summary>
    public const string DnsKey = "dns:listen";

    public void Check(ManypathsConfig config)
    {
        var nodeNames = config.Nodes.Count > 0 ? config.Nodes.Keys.ToList() : ["(any)"];
        foreach (var node in nodeNames)
        {
            var claims = new Claims();
            foreach (var (key, owner, ep) in Endpoints(config, node))
            {
                if (claims.Take(ep, new Claim(node, owner, key)) is { } other)
                {
                    errors.Add(ownerMarks.GetValueOrDefault(key), $"{owner} listens on {ep}{(node == "(any)" ? "" : $" on node '{node}'")}, which {other.Owner} already uses.");
                }
            }
        }

        foreach (var host in config.Nodes.Values.GroupBy(HostOf).Where(g => g.Key is not null && g.Count() > 1))
        {
            CheckSharedHost(config, host.Key!, host.Select(n => n.Name).ToList());
        }
    }

    /// <summary>One error per address that nodes of one host would all bind, naming every one of them.</summary>
    private void CheckSharedHost(ManypathsConfig config, string host, List<string> nodes)
    {
        var claims = new Claims();
        var clashes = new Dictionary<(string Key, IPEndPoint Ep), (Claim First, List<Claim> Others)>();
        foreach (var node in nodes)
        {
            foreach (var (key, owner, ep) in Endpoints(config, node))
            {
                if (claims.Take(ep, new Claim(node, owner, key)) is { } other && other.Node != node)
                {
                    var id = (other.Key, ep);
                    if (!clashes.TryGetValue(id, out var clash))
                    {
                        clashes[id] = clash = (other, []);
                    }

                    clash.Others.Add(new Claim(node, owner, key));
                }
            }
        }

        var share = $"nodes {And(nodes)} share one host (their mesh/admin addresses are {(host == "loopback" ? "all on loopback" : $"all on {host}")})";
        foreach (var ((_, ep), (first, others)) in clashes)
        {
            var message = others.All(o => o.Owner == first.Owner)
                ? $"{first.Owner} listens on {ep} on nodes {And([first.Node, .. others.Select(o => o.Node)])}, which share one host (their mesh/admin addresses are {(host == "loopback" ? "all on loopback" : $"all on {host}")}): only one of them could bind it. Give each node its own address: listen: {{ {string.Join(", ", nodes.Select(n => $"{n}: ..."))} }}."
                : $"{OnNode(first)} listens on {ep}, which {And(others.Select(OnNode).ToList())} would bind too: {share}, so only one of them could bind it.";
            errors.Add(ownerMarks.GetValueOrDefault(first.Key), message);
        }
    }

    /// <summary>"Service 's' on node 'a'"; a node's own admin API or mesh address already names its node.</summary>
    private static string OnNode(Claim c) => c.Key.StartsWith("nodes.", StringComparison.Ordinal) ? c.Owner : $"{c.Owner} on node '{c.Node}'";

    private static string And(List<string> items) => items.Count == 1 ? items[0] : $"{string.Join(", ", items.Take(items.Count - 1))} and {items[^1]}";

    /// <summary>Every address node <paramref name="node"/> binds, with the key its mark is under.</summary>
    private static IEnumerable<(string Key, string Owner, IPEndPoint Endpoint)> Endpoints(ManypathsConfig config, string node)
    {
        if (config.Nodes.TryGetValue(node, out var n))
        {
            if (Endpoint(n.Admin) is { } admin)
            {
                yield return ($"nodes.{node}", $"the admin API of node '{node}'", admin);
            }

            if (Endpoint(n.Mesh) is { } mesh)
            {
                yield return ($"nodes.{node}", $"the mesh address of node '{node}'", mesh);
            }
        }

        foreach (var s in config.Services.Values)
        {
            if (s.Listen?.For(node) is { } ep)
            {
                yield return (s.Name, $"Service '{s.Name}'", ep);
            }
        }

        foreach (var l in config.Listeners.Values)
        {
            if (l.Listen.For(node) is { } ep)
            {
                yield return ("listener:" + l.Name, $"Listener '{l.Name}'", ep);
            }
        }

        if (config.Dns?.Listen.For(node) is { } dns)
        {
            yield return ("listener:" + DnsKey, "DNS (dns.listen, UDP and TCP)", dns); // its TCP side clashes with any TCP listener
        }
    }

    private static IPEndPoint? Endpoint(Uri? url) =>
        url is not null && ValueParsers.TryParseEndpoint($"{url.Host}:{url.Port}", out var ep) ? ep : null;

    /// <summary>Which machine a node runs on, as far as its addresses tell: null when they do not tell.</summary>
    internal static string? HostOf(NodeOptions node)
    {
        var ep = Endpoint(node.Mesh) ?? Endpoint(node.Admin);
        if (ep is null || ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any))
        {
            return null;
        }

        return IPAddress.IsLoopback(ep.Address) ? "loopback" : ep.Address.ToString();
    }

    /// <summary>Addresses taken so far: an exact address, or a wildcard (0.0.0.0, ::) on a port, clashes.</summary>
    private sealed class Claims
    {
        private readonly Dictionary<IPEndPoint, Claim> _exact = [];
        private readonly Dictionary<int, Claim> _wildcardByPort = [];
        private readonly Dictionary<int, Claim> _anyByPort = [];

        public Claim? Take(IPEndPoint ep, Claim claim)
        {
            var wildcard = ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any);
            var other = _exact.GetValueOrDefault(ep) ?? (wildcard ? _anyByPort.GetValueOrDefault(ep.Port) : _wildcardByPort.GetValueOrDefault(ep.Port));
            if (other is not null)
            {
                return other;
            }

            _exact[ep] = claim;
            _anyByPort.TryAdd(ep.Port, claim);
            if (wildcard)
            {
                _wildcardByPort.TryAdd(ep.Port, claim);
            }

            return null;
        }
    }
}
