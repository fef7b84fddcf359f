using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Manypaths.Node;

namespace Manypaths.Proxy;

/// <summary>
/// One Kestrel server on one listen address. What it serves is looked up per request through
/// <paramref name="dispatch"/>, so a reload changes routing without restarting the socket. Kestrel logs nothing of
/// its own: a bind failure becomes one line from the node, not a logged stack trace.
/// </summary>
internal sealed class ListenerHost(IPEndPoint endpoint, Func<IPEndPoint, HttpContext, Task> dispatch) : IAsyncDisposable
{
    private WebApplication? _app;

    public IPEndPoint Endpoint { get; } = endpoint;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = Node.EmbeddedWebHost.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null;
            k.Listen(Endpoint, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(context => dispatch(Endpoint, context));
        await app.StartAsync(cancellationToken);
        _app = app;
    }

    /// <summary>Stops accepting and lets in-flight requests finish for up to <paramref name="grace"/> (or until <paramref name="now"/>).</summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken now = default)
    {
        if (_app is not null)
        {
            await _app.StopGracefullyAsync(grace, now);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }
}
