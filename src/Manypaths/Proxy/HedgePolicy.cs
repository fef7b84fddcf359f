using Manypaths.Config;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Manypaths.Proxy;

/// <summary>
/// Which client requests may be hedged: the configured methods (GET, HEAD and OPTIONS by default; PUT and DELETE only
/// when listed), no body, not an upgrade (WebSocket), not a server-sent event stream, not under a skipped path (long
/// polls). Never a relayed request (its origin hedges) and never once a response byte arrived (the loop's rule).
/// </summary>
internal static class HedgePolicy
{
    public static bool Allows(HedgeOptions? hedge, HttpContext context, bool hasBody)
    {
        if (hedge is null || hasBody)
        {
            return false;
        }

        var request = context.Request;
        if (!Listed(hedge.Methods, request.Method))
        {
            return false;
        }

        // A WebSocket is an upgrade (HTTP/1.1) or an extended CONNECT (HTTP/2); asked of the features directly, as
        // context.WebSockets would build a manager object per request to answer.
        if (context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
            || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true)
        {
            return false;
        }

        foreach (var accept in request.Headers.Accept)
        {
            if (accept?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
            {
                return false;
            }
        }

        var path = request.Path.Value ?? "/";
        foreach (var prefix in hedge.SkipPaths)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Listed(IReadOnlyList<string> methods, string method)
    {
        for (var i = 0; i < methods.Count; i++)
        {
            if (string.Equals(methods[i], method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
