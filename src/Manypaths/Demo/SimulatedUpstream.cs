using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Manypaths.Demo;

/// <summary>A small HTTP upstream for the demo: answers with its name, /healthz, and can be killed and revived.</summary>
internal sealed class SimulatedUpstream(string name, int port) : IAsyncDisposable
{
    private WebApplication? _app;

    public string Name { get; } = name;
    public int Port { get; } = port;
    public bool Running => _app is not null;
    public Uri Url => new($"http://127.0.0.1:{Port}");

    public async Task StartAsync()
    {
        var builder = Node.EmbeddedWebHost.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        var app = builder.Build();
        app.MapGet("/healthz", () => "ok");
        app.Run(async c =>
        {
            c.Response.Headers["X-Upstream"] = Name;
            c.Response.Headers["X-Via"] = c.Request.Headers.Via.ToString();
            await c.Response.WriteAsync($"hello from {Name}\n");
        });
        await app.StartAsync();
        _app = app;
    }

    /// <summary>Stops at once, like a crashed process: open connections are dropped.</summary>
    public async Task KillAsync()
    {
        if (_app is not null)
        {
            await _app.StopNowAsync();
            _app = null;
        }
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}

public static class WebApplicationStop
{
    /// <summary>Stops a Kestrel app without a grace period (open connections are dropped) and disposes it.</summary>
    public static async Task StopNowAsync(this WebApplication app)
    {
        using var now = new CancellationTokenSource();
        await now.CancelAsync();
        try
        {
            await app.StopAsync(now.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await app.DisposeAsync();
    }
}
