using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Manypaths.Proxy;

/// <summary>
/// One Kestrel server on one listen address. What it serves is looked up per request through
/// <paramref name="dispatch"/>, so a reload changes routing without restarting the socket.
/// </summary>
internal sealed class ListenerHost(IPEndPoint endpoint, Func<IPEndPoint, HttpContext, Task> dispatch, ILoggerFactory loggers) : IAsyncDisposable
{
    private WebApplication? _app;

    public IPEndPoint Endpoint { get; } = endpoint;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
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

    /// <summary>Stops accepting and lets in-flight requests finish for up to <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_app is null)
        {
            return;
        }

        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
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
