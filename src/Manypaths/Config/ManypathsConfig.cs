namespace Manypaths.Config;

/// <summary>A whole, validated config file.</summary>
public sealed record ManypathsConfig
{
    public required string SourcePath { get; init; }
    public required ClusterOptions Cluster { get; init; }
    public required IReadOnlyDictionary<string, NodeOptions> Nodes { get; init; }
    public required IReadOnlyDictionary<string, ServiceOptions> Services { get; init; }
    public required IReadOnlyDictionary<string, ListenerOptions> Listeners { get; init; }
    public required StatusOptions Status { get; init; }
    public required AlertOptions Alerts { get; init; }
    public Mesh.MeshOptions Mesh { get; init; } = new();

    /// <summary>'dns': the zones this cluster answers for (null: no DNS).</summary>
    public DnsOptions? Dns { get; init; }

    /// <summary>Where some values were written ("services.NAME.listen", "nodes.NAME.admin"), for later checks.</summary>
    public IReadOnlyDictionary<string, ConfigError> Marks { get; init; } = new Dictionary<string, ConfigError>();

    /// <summary>The node options for <paramref name="node"/>, or a synthetic single node when none are declared.</summary>
    public NodeOptions NodeOrDefault(string node) =>
        Nodes.TryGetValue(node, out var n) ? n : new NodeOptions { Name = node, Admin = null, Mesh = null, Region = null };
}
