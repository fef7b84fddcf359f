namespace Manypaths.Status;

/// <summary>
/// Public mode with <c>status.hide_nodes</c>: node names become "node 1", "node 2" ... (in name order, the same on
/// every node of one config), so a public page tells how many sites see what without naming them.
/// </summary>
internal sealed class NodeAliases
{
    private readonly Dictionary<string, string> _names;

    private NodeAliases(Dictionary<string, string> names) => _names = names;

    /// <summary>No aliases: every name as it is.</summary>
    public static NodeAliases None { get; } = new([]);

    public static NodeAliases For(IEnumerable<string> nodes) =>
        new(nodes.Distinct().Order(StringComparer.Ordinal).Select((n, i) => (n, i)).ToDictionary(x => x.n, x => $"node {x.i + 1}", StringComparer.Ordinal));

    public string this[string node] => _names.GetValueOrDefault(node) ?? node;

    /// <summary>The real name behind a shown one.</summary>
    public string Original(string shown) => _names.FirstOrDefault(n => n.Value == shown).Key ?? shown;

    /// <summary>The report with every node name replaced.</summary>
    public StatusReport Apply(StatusReport r) => _names.Count == 0 ? r : r with
    {
        Node = this[r.Node],
        Peers = r.Peers.Select(p => p with { Name = this[p.Name] }).ToList(),
        LinkMatrix = r.LinkMatrix.Select(c => c with { From = this[c.From], To = this[c.To] }).ToList(),
        Services = r.Services.Select(s => s with { Paths = s.Paths.Select(p => p.Via is null ? p : p with { Via = this[p.Via] }).ToList() }).ToList(),
        Alerts = r.Alerts is { } a ? a with { Sender = a.Sender is null ? null : this[a.Sender] } : null,
    };
}
