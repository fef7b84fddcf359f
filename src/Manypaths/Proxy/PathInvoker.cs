using System.Net.Http.Headers;
using Manypaths.Health;
using Manypaths.Routing;
using Microsoft.Extensions.Logging;

namespace Manypaths.Proxy;

/// <summary>
/// The seam between YARP and our decisions: YARP hands us the outgoing request, and for every attempt we pick the
/// path, rewrite the address, send, report the outcome to the health state machine and decide whether another
/// path may be tried. See docs/design/failover-proxy.md.
/// </summary>
internal sealed partial class PathInvoker(ServiceRuntime service, HttpMessageHandler handler, ILogger logger)
    : HttpMessageInvoker(handler, disposeHandler: false)
{
    /// <summary>Mesh headers a direct attempt must not carry (a clone may have copied them).</summary>
    private static readonly string[] RelayHeaderNames =
    [
        Mesh.RelayHeaders.From, Mesh.RelayHeaders.Time, Mesh.RelayHeaders.Nonce, Mesh.RelayHeaders.Hops, Mesh.RelayHeaders.Chain, Mesh.RelayHeaders.Signature,
    ];

    /// <summary>Forward the path exactly as the client sent it (as YARP does), and parse it faster.</summary>
    private static readonly UriCreationOptions NoCanonicalization = new() { DangerousDisablePathAndQueryCanonicalization = true };

    public override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(ForwardingState.Key, out var state))
        {
            throw new InvalidOperationException("A request reached the path invoker without forwarding state.");
        }

        var streamingBody = state.BufferedBody is null && request.Content is not null ? new TrackingContent(request.Content) : null;
        var pathAndQuery = request.RequestUri!.PathAndQuery;
        if (service.Options.Hedge is { } hedge && state.Idempotent && streamingBody is null && state.Pinned is null)
        {
            return await HedgedAsync(request, pathAndQuery, state, hedge, cancellationToken);
        }

        // Attempts that reached an upstream are limited by 'retries'; connects that failed cost nothing, so they
        // may go on to the remaining paths (each path is tried at most once, so this still ends).
        var maxAttempts = 1 + service.Options.Retry.Retries;
        var freeAttempts = 0;
        var limit = maxAttempts + (2 * service.Upstreams.Length);
        var usedLeastBad = false;
        Exception? lastError = null;
        var time = service.Time;

        while (state.Attempts - freeAttempts < maxAttempts && state.Attempts < limit)
        {
            Pick pick;
            Mesh.RelayPath? via = null;
            if (state.Pinned is { } pinned)
            {
                pick = state.Attempts == 0 ? new Pick(pinned, PickReason.Healthy) : Pick.Nothing;
            }
            else
            {
                (pick, via) = ChoosePath(state, allowLeastBad: !usedLeastBad);
            }

            if (!pick.Found)
            {
                if (state.Attempts == 0)
                {
                    state.NothingToTry = true;
                }

                break;
            }

            var upstream = service.Upstreams[pick.Index];
            if (via is null)
            {
                state.Tried.Add(pick.Index);
            }
            else
            {
                state.RelayTried.Add((pick.Index, via.Peer));
            }

            state.Attempts++;
            state.LastPick = pick.Reason;

            // The first attempt reuses YARP's message (no second copy of the headers); later ones get a clone.
            var first = state.Attempts == 1;
            var target = TargetFor(upstream, via, pathAndQuery);
            var attempt = first ? Retarget(request, target, state, streamingBody) : BuildAttempt(request, target, state, streamingBody);
            SetMeshHeaders(attempt, upstream, via, state);
            using var owned = new OwnedAttempt(first ? null : attempt);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var firstByte = Deadline.Start(linked, service.Options.Timeouts.FirstByte, time);
            var started = time.GetTimestamp();
            AttemptFailure failure;
            try
            {
                var response = await base.SendAsync(attempt, linked.Token);
                var elapsed = time.GetElapsedTime(started);
                var status = (int)response.StatusCode;
                if (via is not null && response.Headers.Contains(Mesh.RelayHeaders.Unreached))
                {
                    // The relay never reached the upstream either: as free as a refused connect here.
                    service.Relay!.Paths.Failed(via.Peer, service.Name, upstream.Name);
                    CountAttempt(upstream, "relay_unreached");
                    response.Dispose();
                    freeAttempts++;
                    continue;
                }

                var passiveBad = service.PassiveBadStatus.Contains(status);
                if (via is null)
                {
                    upstream.Health.ReportRequest(passiveBad ? RequestOutcome.BadStatus : RequestOutcome.Success, elapsed, $"status {status}");
                }
                else if (passiveBad)
                {
                    service.Relay!.Paths.Failed(via.Peer, service.Name, upstream.Name);
                }

                state.NeverReachedUpstream = false;
                if (service.RetryStatus.Contains(status) && state.Attempts - freeAttempts < maxAttempts
                    && RetryPolicy.MayRetry(AttemptFailure.RetryableStatus, state.Idempotent, Replayable(state, streamingBody))
                    && HasAlternative(state) && WithdrawRetry())
                {
                    CountAttempt(upstream, "status_" + status);
                    CountRetry("status");
                    response.Dispose();
                    continue;
                }

                usedLeastBad |= pick.Reason == PickReason.LeastBad;
                CountAttempt(upstream, "response");
                state.ServedBy = upstream;
                return response;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                lastError = e;
                var elapsed = time.GetElapsedTime(started);
                failure = Classify(e, linked.IsCancellationRequested);
                var outcome = failure switch
                {
                    AttemptFailure.NeverSent => RequestOutcome.ConnectFailed,
                    AttemptFailure.Timeout => RequestOutcome.Timeout,
                    _ => RequestOutcome.Broken,
                };
                if (via is null)
                {
                    upstream.Health.ReportRequest(outcome, elapsed, Describe(e));
                }
                else
                {
                    service.Relay!.Paths.Failed(via.Peer, service.Name, upstream.Name);
                }

                // Health data can be wrong, so one least-bad upstream is tried when nothing is healthy; one that
                // refused the connection cost nothing, so it does not use up that one chance.
                usedLeastBad |= pick.Reason == PickReason.LeastBad && failure != AttemptFailure.NeverSent;
                if (failure != AttemptFailure.NeverSent)
                {
                    state.NeverReachedUpstream = false;
                }

                CountAttempt(upstream, failure.ToString().ToLowerInvariant());
                if (logger.IsEnabled(LogLevel.Debug))
                {
                    Log.AttemptFailed(logger, service.Name, upstream.Name, failure, Describe(e));
                }
                if (!RetryPolicy.MayRetry(failure, state.Idempotent, Replayable(state, streamingBody)))
                {
                    break;
                }

                // A connect that failed put no load on any upstream: it spends neither an attempt nor the budget.
                if (failure == AttemptFailure.NeverSent)
                {
                    freeAttempts++;
                }
                else if (state.Attempts - freeAttempts >= maxAttempts || !WithdrawRetry())
                {
                    break;
                }

                CountRetry(failure.ToString().ToLowerInvariant());
            }
        }

        throw lastError is null
            ? new NoUpstreamException(service.Name)
            : new HttpRequestException($"Every attempt for service '{service.Name}' failed: {Describe(lastError)}", lastError);
    }

    private bool WithdrawRetry()
    {
        if (service.Budget.TryWithdraw())
        {
            return true;
        }

        service.Metrics.RetriesDenied.Add(1, new KeyValuePair<string, object?>("service", service.Name));
        Log.RetryDenied(logger, service.Name);
        return false;
    }

    /// <summary>Is there another path (direct, or through a peer not tried yet) worth a retry?</summary>
    private bool HasAlternative(ForwardingState state) => ChoosePath(state, allowLeastBad: false).Pick.Found;

    /// <summary>
    /// The next path: the selector's upstream, directly or through the best peer not tried yet for it. A relay
    /// is taken when the tier has no working direct path (or, by policy, any tier), or when the direct path
    /// works but the relayed one is clearly better (loss or latency margin).
    /// </summary>
    private (Pick Pick, Mesh.RelayPath? Via) ChoosePath(ForwardingState state, bool allowLeastBad)
    {
        var views = service.Views();
        var relay = state.HopsLeft > 0 && state.Pinned is null ? service.Relay : null;
        if (relay is null)
        {
            return (service.Selector.Select(views, state.Tried, allowLeastBad), null);
        }

        var policy = service.Options.RelayPolicy;
        Mesh.RelayPath? Best(int i) => relay.Paths.Best(service.Name, service.Upstreams[i].Name, p => state.RelayTried.Contains((i, p)));
        var pick = service.Selector.Select(views, state.Tried, allowLeastBad, i => Best(i) is not null, policy.PreferOverBackup);
        if (pick.Reason == PickReason.Relayed)
        {
            return Best(pick.Index) is { } via ? (pick, via) : (Pick.Nothing, null);
        }

        if (pick.Reason == PickReason.Healthy && Best(pick.Index) is { } better && Mesh.RelayPaths.ClearlyBetter(better, views[pick.Index].Health, policy))
        {
            return (new Pick(pick.Index, PickReason.Relayed), better);
        }

        return (pick, null);
    }

    private static bool Replayable(ForwardingState state, TrackingContent? streaming) => streaming is null || !streaming.Started;

    private Uri TargetFor(UpstreamRuntime upstream, Mesh.RelayPath? via, string pathAndQuery) => via is null
        ? new Uri(upstream.Prefix + pathAndQuery, NoCanonicalization)
        : new Uri($"{via.PeerMesh.GetLeftPart(UriPartial.Authority)}{Mesh.RelayHeaders.PathPrefix}{service.Name}/{upstream.Name}{pathAndQuery}", NoCanonicalization);

    /// <summary>A relayed attempt is signed for its peer; a direct one carries no mesh headers (a clone may have copied them).</summary>
    private void SetMeshHeaders(HttpRequestMessage attempt, UpstreamRuntime upstream, Mesh.RelayPath? via, ForwardingState state)
    {
        if (via is null)
        {
            foreach (var h in RelayHeaderNames)
            {
                attempt.Headers.Remove(h);
            }

            return;
        }

        var relay = service.Relay!;
        Mesh.RelayHeaders.Sign(attempt, relay.Signer, relay.Self, state.HopsLeft - 1, state.Chain, relay.Time);
        service.Metrics.Relayed.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("peer", via.Peer),
            new KeyValuePair<string, object?>("upstream", upstream.Name));
    }

    private static HttpRequestMessage Retarget(HttpRequestMessage original, Uri target, ForwardingState state, TrackingContent? streaming)
    {
        original.RequestUri = target;
        if (state.BufferedBody is { } body)
        {
            var content = new ByteArrayContent(body);
            CopyContentHeaders(original.Content, content.Headers);
            original.Content = content;
        }
        else if (streaming is not null)
        {
            original.Content = streaming;
        }

        return original;
    }

    private static HttpRequestMessage BuildAttempt(HttpRequestMessage original, Uri target, ForwardingState state, TrackingContent? streaming)
    {
        var attempt = new HttpRequestMessage(original.Method, target)
        {
            // YARP already chose the version (ours from config, or 1.1 for an upgrade such as WebSockets).
            Version = original.Version,
            VersionPolicy = original.VersionPolicy,
        };
        foreach (var h in original.Headers)
        {
            attempt.Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        if (state.BufferedBody is { } body)
        {
            attempt.Content = new ByteArrayContent(body);
            CopyContentHeaders(original.Content, attempt.Content.Headers);
        }
        else if (streaming is not null)
        {
            attempt.Content = streaming;
        }

        return attempt;
    }

    private static void CopyContentHeaders(HttpContent? from, HttpContentHeaders to)
    {
        if (from is null)
        {
            return;
        }

        foreach (var h in from.Headers)
        {
            to.Remove(h.Key);
            to.TryAddWithoutValidation(h.Key, h.Value);
        }
    }

    private static AttemptFailure Classify(Exception e, bool firstByteTimedOut)
    {
        if (firstByteTimedOut && e is OperationCanceledException)
        {
            return AttemptFailure.Timeout;
        }

        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is ConnectFailedException)
            {
                return AttemptFailure.NeverSent;
            }
        }

        if (e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
        {
            return AttemptFailure.NeverSent;
        }

        return firstByteTimedOut ? AttemptFailure.Timeout : AttemptFailure.Broken;
    }

    private static string Describe(Exception e) => FailureText.Of(e);

    private void CountAttempt(UpstreamRuntime upstream, string result) =>
        service.Metrics.Attempts.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("upstream", upstream.Name),
            new KeyValuePair<string, object?>("result", result));

    private void CountRetry(string reason) =>
        service.Metrics.Retries.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("reason", reason));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, EventName = "AttemptFailed", Level = LogLevel.Debug,
            Message = "Service {Service}: attempt to {Upstream} failed ({Failure}): {Detail}")]
        public static partial void AttemptFailed(ILogger logger, string service, string upstream, AttemptFailure failure, string detail);

        [LoggerMessage(EventId = 1102, EventName = "RetryDenied", Level = LogLevel.Warning,
            Message = "Service {Service}: retry refused by the retry budget")]
        public static partial void RetryDenied(ILogger logger, string service);
    }
}
