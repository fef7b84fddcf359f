using Manypaths.Config;
using Manypaths.Health;

namespace Manypaths.Service;

/// <summary>One upstream of one service on this node: its options, its direct path's health, where to connect.</summary>
internal sealed class UpstreamCore(int index, UpstreamOptions options, UpstreamHealth health)
{
    public int Index { get; } = index;
    public UpstreamOptions Options { get; } = options;
    public UpstreamHealth Health { get; } = health;
    public string Name => Options.Name;

    /// <summary>host:port of a direct connect (what connect times are measured for).</summary>
    public string Endpoint { get; } = $"{options.Url.Host}:{options.Url.Port}";

    /// <summary>Authority and base path: a request's path and query are appended to this.</summary>
    public string Prefix { get; } = options.Url.GetLeftPart(UriPartial.Authority) + options.Url.AbsolutePath.TrimEnd('/');
}
