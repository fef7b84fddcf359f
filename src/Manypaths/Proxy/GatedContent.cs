using System.Net;
using Manypaths.Service;

namespace Manypaths.Proxy;

/// <summary>
/// The body of one attempt of a request that must not be sent twice (or whose body streams and can be read only
/// once), behind the request's <see cref="SendGate"/>. SocketsHttpHandler asks for the body only once the
/// connection is ready, and over HTTP/1.1 nothing of the request (headers included) has left by then: the attempt
/// that gets here first claims the request; any other attempt throws <see cref="NotSentException"/> and its
/// connection is closed without a byte sent. An empty body (a POST without one) is gated the same way.
/// </summary>
internal sealed class GatedContent : HttpContent
{
    private readonly HttpContent? _inner;
    private readonly SendGate _gate;
    private readonly int _attempt;

    /// <param name="inner">The body (buffered or streaming), or null for an empty one.</param>
    public GatedContent(HttpContent? inner, SendGate gate, int attempt)
    {
        _inner = inner;
        _gate = gate;
        _attempt = attempt;
        if (inner is not null)
        {
            foreach (var h in inner.Headers)
            {
                Headers.TryAddWithoutValidation(h.Key, h.Value);
            }
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (!_gate.TryClaim(_attempt))
        {
            throw new NotSentException();
        }

        return _inner is null ? Task.CompletedTask : _inner.CopyToAsync(stream, context, cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _inner is null ? 0 : _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        // The inner body belongs to the request (YARP's stream, or the buffered copy): never disposed here.
        base.Dispose(disposing);
    }
}

/// <summary>Another attempt of the same request claimed the send first: this one sent nothing.</summary>
internal sealed class NotSentException() : IOException("Another attempt of this request was sent first; this one sent nothing.");
