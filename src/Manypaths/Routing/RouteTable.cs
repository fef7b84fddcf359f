using Manypaths.Config;

namespace Manypaths.Routing;

/// <summary>
/// Splits one listener by host and path prefix: host-specific routes before host-less ones, longest prefix first.
/// </summary>
internal sealed class RouteTable
{
    private readonly (string? Host, string Prefix, string Service)[] _routes;

    public RouteTable(IEnumerable<ListenerRoute> routes)
    {
        _routes = routes
            .Select(r => (Host: r.Host?.ToLowerInvariant(), Prefix: r.PathPrefix ?? "/", r.Service))
            .OrderBy(r => r.Host is null ? 1 : 0)
            .ThenByDescending(r => r.Prefix.Length)
            .ToArray();
    }

    public string? Match(string host, string path)
    {
        var h = StripPort(host);
        foreach (var r in _routes)
        {
            if (r.Host is not null && !string.Equals(r.Host, h, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (PathMatches(path, r.Prefix))
            {
                return r.Service;
            }
        }

        return null;
    }

    private static bool PathMatches(string path, string prefix)
    {
        if (prefix == "/")
        {
            return true;
        }

        // "/auth/" matches "/auth/x"; "/auth" matches "/auth" and "/auth/x" but not "/authors".
        if (prefix.EndsWith('/'))
        {
            return path.StartsWith(prefix, StringComparison.Ordinal) || path == prefix[..^1];
        }

        return path == prefix || path.StartsWith(prefix + "/", StringComparison.Ordinal);
    }

    private static string StripPort(string host)
    {
        if (host.StartsWith('['))
        {
            var end = host.IndexOf(']');
            return end > 0 ? host[1..end] : host;
        }

        var colon = host.LastIndexOf(':');
        return colon > 0 && host.IndexOf(':') == colon ? host[..colon] : host;
    }
}
