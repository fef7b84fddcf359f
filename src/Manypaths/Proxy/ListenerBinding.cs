using Manypaths.Routing;

namespace Manypaths.Proxy;

/// <summary>What one listen address serves in one config generation: a single service, or routes to several.</summary>
internal sealed record ListenerBinding(string Name, string? Service, RouteTable? Routes)
{
    public string? Resolve(string host, string path) => Service ?? Routes?.Match(host, path);
}
