using System.Net;

namespace Manypaths.Config;

/// <summary>A listen address for every node, or one per node.</summary>
public sealed record ListenAddresses
{
    public IPEndPoint? All { get; init; }
    public IReadOnlyDictionary<string, IPEndPoint> PerNode { get; init; } = new Dictionary<string, IPEndPoint>();

    public IPEndPoint? For(string node) => PerNode.TryGetValue(node, out var ep) ? ep : All;
}
