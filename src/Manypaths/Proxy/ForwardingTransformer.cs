using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Manypaths.Proxy;

/// <summary>Standard proxy headers (X-Forwarded-*, Via, Host); mesh headers never pass in either direction.</summary>
internal sealed class ForwardingTransformer(ServiceRuntime service) : HttpTransformer
{
    private readonly string _via = $"1.1 manypaths-{service.Node.Name}";

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var forwarded = service.Options.Forwarded;
        var request = httpContext.Request;
        proxyRequest.Headers.Host = forwarded.PreserveHost ? request.Host.Value : null;
        if (forwarded.XForwarded)
        {
            var client = httpContext.Connection.RemoteIpAddress?.ToString();
            var existing = request.Headers["X-Forwarded-For"].ToString();
            if (existing.Length > 0 || request.Headers.ContainsKey("X-Forwarded-Proto") || request.Headers.ContainsKey("X-Forwarded-Host"))
            {
                // Ours replace what the client sent (the client's own For chain is kept and extended).
                proxyRequest.Headers.Remove("X-Forwarded-For");
                proxyRequest.Headers.Remove("X-Forwarded-Proto");
                proxyRequest.Headers.Remove("X-Forwarded-Host");
            }

            if (client is not null)
            {
                proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", existing.Length > 0 ? $"{existing}, {client}" : client);
            }

            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
            if (request.Host.HasValue)
            {
                proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", request.Host.Value);
            }
        }

        if (forwarded.Via)
        {
            proxyRequest.Headers.TryAddWithoutValidation("Via", _via);
        }

        // Mesh headers (relay auth, chain) never reach an upstream; the invoker adds fresh ones to relayed attempts.
        // Looked for among the headers YARP copied (a struct enumerator; Kestrel's would be boxed per request).
        foreach (var key in MeshHeaders(proxyRequest.Headers) ?? [])
        {
            proxyRequest.Headers.Remove(key);
        }
    }

    /// <summary>The X-Manypaths-* names among <paramref name="headers"/>, or null (no allocation when there are none).</summary>
    private static List<string>? MeshHeaders(System.Net.Http.Headers.HttpHeaders headers)
    {
        List<string>? found = null;
        foreach (var header in headers.NonValidated)
        {
            if (header.Key.StartsWith("X-Manypaths-", StringComparison.OrdinalIgnoreCase))
            {
                (found ??= []).Add(header.Key);
            }
        }

        return found;
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        // Only a Manypaths node may speak the mesh's headers: an upstream that sent X-Manypaths-Unreached could
        // otherwise make an origin resend a request that did reach it. The response's headers are the upstream's
        // (HttpClient files every non-content header there), copied just now.
        if (proxyResponse is not null)
        {
            foreach (var key in MeshHeaders(proxyResponse.Headers) ?? [])
            {
                httpContext.Response.Headers.Remove(key);
            }
        }

        if (proxyResponse is not null && service.Options.Forwarded.Via)
        {
            httpContext.Response.Headers.Append("Via", _via);
        }

        return copy;
    }
}
