using Manypaths.Config;
using Manypaths.Health;

namespace Manypaths.Proxy;

/// <summary>One upstream of one service on this node: its options and its health.</summary>
internal sealed class UpstreamRuntime(int index, UpstreamOptions options, UpstreamHealth health)
{
    public int Index { get; } = index;
    public UpstreamOptions Options { get; } = options;
    public UpstreamHealth Health { get; } = health;
    public string Name => Options.Name;

    /// <summary>Authority and base path: the request's path and query are appended to this.</summary>
    public string Prefix { get; } = options.Url.GetLeftPart(UriPartial.Authority) + options.Url.AbsolutePath.TrimEnd('/');
}
