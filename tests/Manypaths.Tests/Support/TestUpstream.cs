using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Manypaths.Demo;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Support;

internal enum UpstreamBehaviour
{
    Ok,
    Status503,

    /// <summary>Reads the whole request (body too), then drops the connection without answering.</summary>
    AbortAfterRead,

    /// <summary>Answers after a delay.</summary>
    Slow,
}

/// <summary>A real Kestrel upstream on a free loopback port that counts what it receives and can be killed.</summary>
internal sealed class TestUpstream : IAsyncDisposable
{
    private WebApplication? _app;
    private int _requests;
    private int _probes;
    private int _cancelled;

    public TestUpstream(string name, int? port = null)
    {
        Name = name;
        Port = port ?? Demo.FreePort.Next();
    }

    public string Name { get; }
    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";
    public int Requests => Volatile.Read(ref _requests);
    public int Probes => Volatile.Read(ref _probes);
    public int Cancelled => Volatile.Read(ref _cancelled);

    /// <summary>How many distinct TCP connections health probes arrived on.</summary>
    public int ProbeConnections => _probeConnections.Count;

    private readonly ConcurrentDictionary<string, bool> _probeConnections = new();
    private volatile UpstreamBehaviour _behaviour;
    private volatile bool _healthOk = true;

    public UpstreamBehaviour Behaviour { get => _behaviour; set => _behaviour = value; }
    public bool HealthOk { get => _healthOk; set => _healthOk = value; }
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>With <see cref="UpstreamBehaviour.Slow"/>: each request's own delay (null: <see cref="SlowDelay"/>).</summary>
    public Func<HttpRequest, TimeSpan>? SlowDelayOf { get; set; }

    /// <summary>With <see cref="UpstreamBehaviour.Slow"/>: only requests that match are slow (null: all of them).</summary>
    public Func<HttpRequest, bool>? SlowOnlyWhen { get; set; }
    /// <summary>Headers added to every normal answer (e.g. to try to spoof the mesh's own headers).</summary>
    public Dictionary<string, string> ExtraResponseHeaders { get; } = [];

    public ConcurrentQueue<(string Method, string Path, string Body, Dictionary<string, string> Headers)> Seen { get; } = new();

    /// <summary>How many standby warm-up GETs (User-Agent Manypaths-standby-warmup) came.</summary>
    public int Warmups => Volatile.Read(ref _warmups);
    private int _warmups;

    /// <summary>Standby warm-up GETs get no answer: each waits until the proxy gives it up.</summary>
    public bool WarmupsHang { get; set; }

    /// <summary>How many hanging warm-ups the proxy gave up (<see cref="WarmupsHang"/>).</summary>
    public int WarmupsGivenUp => Volatile.Read(ref _warmupsGivenUp);
    private int _warmupsGivenUp;

    /// <summary>Every connection accepted, used or not.</summary>
    public ConcurrentDictionary<string, bool> AcceptedConnections { get; } = new();

    /// <summary>The connection each client request (not a health GET) came on.</summary>
    public ConcurrentQueue<string> RequestConnections { get; } = new();

    public static async Task<TestUpstream> StartAsync(string name)
    {
        var u = new TestUpstream(name);
        await u.StartAsync();
        return u;
    }

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port, listen => listen.Use(next => connection =>
        {
            AcceptedConnections.TryAdd(connection.ConnectionId, true);
            return next(connection);
        })));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        _app = app;
    }

    private async Task HandleAsync(HttpContext c)
    {
        if (c.Request.Path == "/healthz" && c.Request.Headers.UserAgent.ToString().Contains("Manypaths-standby-warmup", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _warmups);
            if (WarmupsHang)
            {
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, c.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _warmupsGivenUp);
                }

                return;
            }

            await c.Response.WriteAsync(HealthOk ? "ok" : "sick");
            return;
        }

        if (c.Request.Path == "/healthz")
        {
            Interlocked.Increment(ref _probes);
            _probeConnections.TryAdd(c.Connection.Id, true);
            c.Response.StatusCode = HealthOk ? 200 : 503;
            await c.Response.WriteAsync(HealthOk ? "ok" : "sick");
            return;
        }

        Interlocked.Increment(ref _requests);
        RequestConnections.Enqueue(c.Connection.Id);
        var body = await new StreamReader(c.Request.Body).ReadToEndAsync();
        Seen.Enqueue((c.Request.Method, c.Request.Path + c.Request.QueryString, body, c.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        switch (Behaviour)
        {
            case UpstreamBehaviour.Status503:
                c.Response.StatusCode = 503;
                await c.Response.WriteAsync($"{Name} is overloaded");
                return;
            case UpstreamBehaviour.AbortAfterRead:
                c.Abort();
                return;
            case UpstreamBehaviour.Slow when SlowOnlyWhen?.Invoke(c.Request) ?? true:
                try
                {
                    await Task.Delay(SlowDelayOf?.Invoke(c.Request) ?? SlowDelay, TimeProvider.System, c.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _cancelled); // the proxy gave up on this request (e.g. a hedge won)
                    return;
                }

                break;
        }

        c.Response.Headers["X-Upstream"] = Name;
        foreach (var (key, value) in ExtraResponseHeaders)
        {
            c.Response.Headers[key] = value;
        }

        await c.Response.WriteAsync($"hello from {Name}");
    }

    /// <summary>Stops at once, like a crashed process.</summary>
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
