using Microsoft.Extensions.Logging;

namespace Manypaths.Proxy;

/// <summary>
/// The seam between YARP and our decisions: YARP hands us the outgoing request once, and the service core's attempt
/// loop runs its attempts (first try, retries, hedges, connect races, rescues) through <see cref="HttpAttempts"/>,
/// each on the path the chooser picked. See docs/design/service-core.md and docs/design/failover-proxy.md.
/// </summary>
internal sealed partial class PathInvoker(ServiceRuntime service, HttpMessageHandler handler, ILogger logger)
    : HttpMessageInvoker(handler, disposeHandler: false)
{
    public override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(ForwardingState.Key, out var state))
        {
            throw new InvalidOperationException("A request reached the path invoker without forwarding state.");
        }

        var attempts = new HttpAttempts(service, this, request, state, logger);
        var result = await service.Core.Loop.RunAsync(attempts, state.History, cancellationToken);
        if (result.Value is { } response)
        {
            state.NeverReachedUpstream = false;
            state.ServedBy = service.Upstreams[result.ServedBy!.Upstream];
            state.ServedPath = result.ServedBy;
            return response;
        }

        state.NothingToTry = result.NothingToTry;
        state.NeverReachedUpstream = result.NeverReachedUpstream;
        throw result.LastError is null
            ? new NoUpstreamException(service.Name)
            : new HttpRequestException($"Every attempt for service '{service.Name}' failed: {FailureText.Of(result.LastError)}", result.LastError);
    }

    /// <summary>One attempt's request over the connection pool (our connect callback picks the socket).</summary>
    internal Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage attempt, CancellationToken cancellationToken) =>
        base.SendAsync(attempt, cancellationToken);
}
