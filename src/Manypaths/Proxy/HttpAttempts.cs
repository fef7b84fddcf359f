using System.Net.Http.Headers;
using Manypaths.Health;
using Manypaths.Routing;
using Manypaths.Service;
using Microsoft.Extensions.Logging;

namespace Manypaths.Proxy;

/// <summary>
/// One client request's side of YARP and of the attempt loop. YARP hands it the outgoing request once (it is the
/// request's own <see cref="HttpMessageInvoker"/>, over the service's pool, so nothing has to be looked up per request),
/// and the service core's attempt loop runs its attempts (first try, retries, hedges, connect races, rescues) through
/// it, each on the path the chooser picked: the request rewritten to the upstream, or signed for a peer. It says what
/// the request allows (hedging: idempotent and bodiless; retrying: per RFC 9110 idempotency and a replayable body;
/// giving a waiting attempt up: when it may be sent again or its gate proves it never was), and classifies what came
/// back. See docs/design/service-core.md and docs/design/failover-proxy.md.
/// </summary>
internal sealed partial class HttpAttempts(ServiceRuntime service, ForwardingState state)
    : HttpMessageInvoker(service.Handler, disposeHandler: false), IAttemptRunner<HttpResponseMessage>
{
    /// <summary>Forward the path exactly as the client sent it (as YARP does), and parse it faster.</summary>
    private static readonly UriCreationOptions NoCanonicalization = new() { DangerousDisablePathAndQueryCanonicalization = true };

    /// <summary>"status 200" and the like, made once per code (every answer's detail).</summary>
    private static readonly string?[] StatusTexts = new string?[600];

    private readonly ILogger _logger = service.ProxyLogger;

    /// <summary>YARP's message: the first attempt's, and what later ones are copied from.</summary>
    private HttpRequestMessage _original = null!;

    /// <summary>Read from YARP's URI before the first attempt may replace it (see <see cref="PathAndQuery"/>).</summary>
    private string? _pathAndQuery;

    /// <summary>YARP's streaming body, when the request has one too large (or of unknown length) to buffer.</summary>
    private HttpContent? _streaming;

    /// <summary>The client's headers, read once before the first attempt goes out (copies are made from these, never
    /// from YARP's message while a handler may be reading it).</summary>
    private KeyValuePair<string, HeaderStringValues>[] _headers = [];

    public override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _original = request;
        _streaming = state.BufferedBody is null ? request.Content : null;
        _headers = Snapshot(request.Headers);
        var result = await service.Core.Loop.RunAsync(this, state.History, cancellationToken);
        if (result.Value is { } response)
        {
            state.NeverReachedUpstream = false;
            state.ServedBy = service.Upstreams[result.ServedBy!.Upstream];
            state.ServedPath = result.ServedBy;
            return response;
        }

        state.NothingToTry = result.NothingToTry;
        state.NeverReachedUpstream = result.NeverReachedUpstream;
        state.TimedOut |= Expired;
        throw result.LastError is null
            ? new NoUpstreamException(service.Name)
            : new HttpRequestException($"Every attempt for service '{service.Name}' failed: {FailureText.Of(result.LastError)}", result.LastError);
    }

    /// <summary>The request's path and query as YARP built them. YARP's URI is intact until the first attempt's target
    /// replaces it, and that attempt reads this first unless it keeps YARP's URI as it is.</summary>
    private string PathAndQuery => _pathAndQuery ??= _original.RequestUri!.PathAndQuery;

    public bool MayHedge => state.Hedgeable;

    /// <summary>
    /// A second connect beside a slow one may go out when the request may be sent twice (idempotent, body not
    /// streaming) or when its gate proves only one attempt sends it (HTTP/1.1).
    /// </summary>
    public bool MayRace => (state.Idempotent && _streaming is null) || (state.Gate is not null && (state.Idempotent || service.GatesProveUnsent));

    /// <summary>The body can be sent again: buffered, absent, or streaming and not read by any attempt yet.</summary>
    private bool Replayable => _streaming is null || state.Gate is not { Claimed: true };

    public bool MayRetry(AttemptFailure failure) => RetryPolicy.MayRetry(failure, state.Idempotent, Replayable) && !Expired;

    /// <summary>The request's deadline ('timeouts.request') has passed: no attempt starts any more.</summary>
    private bool Expired => state.DeadlineAt != long.MaxValue && service.Time.GetTimestamp() >= state.DeadlineAt;

    public bool TryAbandon(Attempt attempt)
    {
        if (Expired)
        {
            return false; // started elsewhere it could not wait at all
        }

        if (state.Idempotent && _streaming is null)
        {
            return true; // may be sent twice: the waiting copy is cancelled, its connection closed
        }

        // Idempotent with a streaming body: fine if that body was never read. Not idempotent: only if this attempt
        // provably never sent it (HTTP/1.1: the gate stands before anything leaves).
        return state.Gate is { } gate && (state.Idempotent || service.GatesProveUnsent) && gate.TryAbandon(attempt.Number);
    }

    public void Discard(HttpResponseMessage value) => value.Dispose();

    public async Task<AttemptOutcome<HttpResponseMessage>> RunAsync(Attempt attempt)
    {
        var upstream = service.Upstreams[attempt.Path.Upstream];
        var first = attempt.Number == 1;
        if (first && attempt.Path.Peer is null && attempt.Path.Upstream != service.LikelyDirect)
        {
            service.LikelyDirect = attempt.Path.Upstream;
        }

        var started = attempt.Started; // the loop stamped it just now
        var wait = service.Options.Timeouts.FirstByte;
        var requestDeadline = false; // the request's deadline, not first_byte, ends this wait
        if (state.DeadlineAt != long.MaxValue)
        {
            // The request's own deadline ends every wait for a first byte (a hedge or retry gets what is left of it).
            var left = service.Time.GetElapsedTime(started, state.DeadlineAt);
            if (left <= TimeSpan.Zero)
            {
                Count(upstream, "timeout");
                return new(AttemptResult.Failed, null, AttemptFailure.Timeout, null, TimeSpan.Zero, "the request's deadline had passed");
            }

            requestDeadline = left < wait;
            wait = requestDeadline ? left : wait;
        }

        var message = Prepare(first, TargetFor(upstream, attempt.Path, first), attempt);
        using var firstByte = attempt.StartDeadline(wait, service.Time);
        PoolHandOff.Enter(attempt); // this async method's flow only: the pool tells the attempt when it takes a connection
        try
        {
            var response = await base.SendAsync(message, attempt.Token);
            firstByte.Disarm();
            attempt.MarkFirstByte();
            var latency = service.Time.GetElapsedTime(started);
            var status = (int)response.StatusCode;
            if (attempt.Path.Peer is not null && response.Headers.Contains(Mesh.RelayHeaders.Unreached))
            {
                // The relay never reached the upstream either: free to try elsewhere, and a failure of that path.
                response.Dispose();
                Count(upstream, "relay_unreached");
                return new(AttemptResult.Unreached, null, AttemptFailure.NeverSent, RequestOutcome.ConnectFailed, latency, $"{attempt.Path.Peer} could not reach {upstream.Name}");
            }

            var health = service.PassiveBadStatus.Contains(status) ? RequestOutcome.BadStatus : RequestOutcome.Success;
            if (service.RetryStatus.Contains(status))
            {
                Count(upstream, "status_" + status);
                return new(AttemptResult.RetryableStatus, response, AttemptFailure.RetryableStatus, health, latency, StatusText(status));
            }

            Count(upstream, "response");
            return new(AttemptResult.Success, response, AttemptFailure.None, health, latency, StatusText(status));
        }
        catch (Exception e)
        {
            var latency = service.Time.GetElapsedTime(started);
            if (attempt.LostConnectRace)
            {
                Count(upstream, "lost_race");
                return new(AttemptResult.LostRace, null, AttemptFailure.NeverSent, null, latency, "the other attempt of its connect race connected first", e);
            }

            // The request's deadline is the request's, not a fault of the path (first_byte is): as if cancelled.
            if (attempt.CancelledOnPurpose || (requestDeadline && attempt.Token.IsCancellationRequested))
            {
                state.TimedOut |= !attempt.CancelledOnPurpose; // the timer may run a hair before the clock says so
                Count(upstream, "cancelled");
                return new(AttemptResult.Cancelled, null, AttemptFailure.None, null, latency, "cancelled", e);
            }

            if (Contains<NotSentException>(e))
            {
                Count(upstream, "lost_race");
                return new(AttemptResult.LostRace, null, AttemptFailure.NeverSent, null, latency, "another attempt was sent first", e);
            }

            var failure = Classify(e, firstByteTimedOut: attempt.Token.IsCancellationRequested); // not on purpose: the deadline
            Count(upstream, failure.ToString().ToLowerInvariant());
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.AttemptFailed(_logger, service.Name, upstream.Name, attempt.Path.Peer ?? "direct", failure, FailureText.Of(e));
            }

            var health = failure switch
            {
                AttemptFailure.NeverSent when IsRefused(e) => RequestOutcome.Refused,
                AttemptFailure.NeverSent => RequestOutcome.ConnectFailed,
                AttemptFailure.Timeout => RequestOutcome.Timeout,
                _ => RequestOutcome.Broken,
            };
            return new(AttemptResult.Failed, null, failure, health, latency, FailureText.Of(e), e);
        }
        finally
        {
            if (!first)
            {
                message.Content = null; // the body belongs to the request, not to this copy
                message.Dispose();
            }
        }
    }

    /// <summary>
    /// The message for one attempt: the first reuses YARP's (no second copy of the headers), later ones a copy.
    /// The body is the buffered copy, YARP's stream, or nothing; behind the request's gate when it has one.
    /// </summary>
    private HttpRequestMessage Prepare(bool first, Uri target, Attempt attempt)
    {
        var message = first ? _original : Copy(target);
        message.RequestUri = target;
        HttpContent? body = state.BufferedBody is { } buffered ? new ByteArrayContent(buffered) : _streaming;
        if (body is not null && state.BufferedBody is not null)
        {
            CopyContentHeaders(_original.Content, body.Headers);
        }

        message.Content = state.Gate is { } gate && (body is not null || !state.Idempotent) ? new GatedContent(body, gate, attempt.Number) : body;
        attempt.Request = message;
        SetMeshHeaders(message, service.Upstreams[attempt.Path.Upstream], attempt.Path);
        return message;
    }

    /// <summary>The headers as they are now: each value is the stored string or array, which later parsing replaces rather than changes.</summary>
    private static KeyValuePair<string, HeaderStringValues>[] Snapshot(HttpRequestHeaders headers)
    {
        var all = headers.NonValidated;
        var copy = new KeyValuePair<string, HeaderStringValues>[all.Count];
        var i = 0;
        foreach (var header in all)
        {
            copy[i++] = header;
        }

        return i == copy.Length ? copy : copy[..i];
    }

    private HttpRequestMessage Copy(Uri target)
    {
        var copy = new HttpRequestMessage(_original.Method, target)
        {
            // YARP already chose the version (ours from config, or 1.1 for an upgrade such as WebSockets).
            Version = _original.Version,
            VersionPolicy = _original.VersionPolicy,
        };
        foreach (var (key, values) in _headers)
        {
            copy.Headers.TryAddWithoutValidation(key, values);
        }

        return copy;
    }

    /// <summary>
    /// Where an attempt goes. A first attempt straight to the upstream whose prefix YARP was given
    /// (<see cref="ForwardingState.YarpUpstream"/>) keeps YARP's URI: it is that prefix and the request's path already.
    /// </summary>
    private Uri TargetFor(UpstreamCore upstream, PathChoice path, bool first)
    {
        if (path.PeerMesh is { } peer)
        {
            return new Uri($"{peer.GetLeftPart(UriPartial.Authority)}{Mesh.RelayHeaders.PathPrefix}{service.Name}/{upstream.Name}{PathAndQuery}", NoCanonicalization);
        }

        return first && path.Upstream == state.YarpUpstream ? _original.RequestUri! : new Uri(upstream.Prefix + PathAndQuery, NoCanonicalization);
    }

    private static string StatusText(int status)
    {
        if ((uint)status >= (uint)StatusTexts.Length)
        {
            return $"status {status}";
        }

        return StatusTexts[status] ??= $"status {status}";
    }

    /// <summary>
    /// A relayed attempt is signed for its peer; a direct one carries no mesh headers. Nothing to remove first: the
    /// client's were stripped by the transformer, the first attempt is YARP's message before anything signed it, and
    /// later ones are copies of the headers as they were then (<see cref="_headers"/>).
    /// </summary>
    private void SetMeshHeaders(HttpRequestMessage attempt, UpstreamCore upstream, PathChoice path)
    {
        if (path.Peer is null)
        {
            return;
        }

        var relay = service.Relay!;
        Mesh.RelayHeaders.Sign(attempt, relay.Signer, relay.Self, state.History.HopsLeft - 1, state.Chain, relay.Time);
        service.Metrics.Relayed.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("peer", path.Peer),
            new KeyValuePair<string, object?>("upstream", upstream.Name));
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

    private static bool Contains<TException>(Exception e) where TException : Exception
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is TException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The upstream's host answered the connect with a reset: nothing listens there.</summary>
    private static bool IsRefused(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
            {
                return true;
            }
        }

        return false;
    }

    private static AttemptFailure Classify(Exception e, bool firstByteTimedOut)
    {
        if (firstByteTimedOut && e is OperationCanceledException)
        {
            return AttemptFailure.Timeout;
        }

        if (Contains<ConnectFailedException>(e) || e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
        {
            return AttemptFailure.NeverSent;
        }

        return firstByteTimedOut ? AttemptFailure.Timeout : AttemptFailure.Broken;
    }

    private void Count(UpstreamCore upstream, string result) =>
        service.Metrics.Attempts.Add(1,
            new KeyValuePair<string, object?>("service", service.Name),
            new KeyValuePair<string, object?>("upstream", upstream.Name),
            new KeyValuePair<string, object?>("result", result));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, EventName = "AttemptFailed", Level = LogLevel.Debug,
            Message = "Service {Service}: attempt to {Upstream} ({Path}) failed ({Failure}): {Detail}")]
        public static partial void AttemptFailed(ILogger logger, string service, string upstream, string path, AttemptFailure failure, string detail);
    }
}
