using System.Net;

namespace Manypaths.Proxy;

/// <summary>
/// Wraps YARP's streaming request body to know whether any byte of it was read. A body that was never read can be
/// sent on another path after a failed connect; one that was read never is.
/// </summary>
internal sealed class TrackingContent : HttpContent
{
    private readonly HttpContent _inner;

    public TrackingContent(HttpContent inner)
    {
        _inner = inner;
        foreach (var h in inner.Headers)
        {
            Headers.TryAddWithoutValidation(h.Key, h.Value);
        }
    }

    public bool Started { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Started = true;
        return _inner.CopyToAsync(stream, context, cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }
}
