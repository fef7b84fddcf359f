using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Support;

/// <summary>A real Kestrel server on a loopback port that records every webhook POST; it can be stopped and started again on the same port.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    private WebhookReceiver(int port) => Port = port;

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    /// <summary>Every body received, parsed, in order.</summary>
    public ConcurrentQueue<JsonElement> Received { get; } = new();

    /// <summary>Every event of every json payload received: (kind, subject, to, key).</summary>
    public List<(string Kind, string Subject, string To, string Key)> Events() =>
        Received.Where(p => p.TryGetProperty("events", out _)).SelectMany(p => p.GetProperty("events").EnumerateArray())
            .Select(e => (e.GetProperty("kind").GetString()!, e.GetProperty("subject").GetString()!, e.GetProperty("to").GetString()!, e.GetProperty("key").GetString()!)).ToList();

    public static async Task<WebhookReceiver> StartAsync(int? port = null)
    {
        var receiver = new WebhookReceiver(port ?? Demo.FreePort.Next());
        await receiver.StartAsync();
        return receiver;
    }

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Port}");
        var app = builder.Build();
        app.MapPost("/hook", async (HttpContext c) =>
        {
            using var doc = await JsonDocument.ParseAsync(c.Request.Body);
            Received.Enqueue(doc.RootElement.Clone());
            return Results.Ok();
        });
        await app.StartAsync();
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
