using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// A minimal upstream for benchmarks: GET / answers a small fixed body, GET /healthz answers 200, the rest 404.
// A port range listens on every port of it (many simulated upstreams in one process). UPSTREAM_DELAY_MS (and
// UPSTREAM_JITTER_MS, uniform on top) makes every answer to / that much slower: a uniformly slow upstream.
// GET /_count answers how many requests for / arrived so far (counted on arrival, so a hedge that lost counts too).
//   dotnet Upstream.dll 127.0.0.1:9001
//   dotnet Upstream.dll 127.0.0.1:21000-21199
var listens = new List<IPEndPoint>();
var range = args.Length == 1 ? System.Text.RegularExpressions.Regex.Match(args[0], @"^(.+):(\d+)-(\d+)$") : null;
if (range is { Success: true } && IPAddress.TryParse(range.Groups[1].Value, out var rangeAddress))
{
    for (var port = int.Parse(range.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture); port <= int.Parse(range.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture); port++)
    {
        listens.Add(new IPEndPoint(rangeAddress, port));
    }
}
else if (args.Length == 1 && IPEndPoint.TryParse(args[0], out var single))
{
    listens.Add(single);
}

if (listens.Count == 0)
{
    await Console.Error.WriteLineAsync("usage: Upstream LISTEN_IP:PORT[-LAST_PORT]   (for example 127.0.0.1:9001)");
    return 2;
}

var body = "Hello from the Manypaths bench upstream.\n"u8.ToArray();
var delayMs = int.TryParse(Environment.GetEnvironmentVariable("UPSTREAM_DELAY_MS"), out var d) ? d : 0;
var jitterMs = int.TryParse(Environment.GetEnvironmentVariable("UPSTREAM_JITTER_MS"), out var j) ? j : 0;
var ok = "ok\n"u8.ToArray();
long arrived = 0;

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    foreach (var listen in listens)
    {
        k.Listen(listen, l => l.Protocols = HttpProtocols.Http1);
    }
});
var app = builder.Build();

app.Run(async context =>
{
    var request = context.Request;
    var response = context.Response;
    if (request.Path.Value == "/_count")
    {
        await response.WriteAsync(Interlocked.Read(ref arrived).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return;
    }

    var payload = (request.Method, request.Path.Value) switch
    {
        ("GET" or "HEAD", "/") => body,
        ("GET" or "HEAD", "/healthz") => ok,
        _ => null,
    };
    if (payload is null)
    {
        response.StatusCode = StatusCodes.Status404NotFound;
        return;
    }

    if (payload == body)
    {
        Interlocked.Increment(ref arrived);
    }

    if (delayMs + jitterMs > 0 && payload == body)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(delayMs + Random.Shared.Next(jitterMs + 1)), TimeProvider.System);
    }

    response.ContentType = "text/plain; charset=utf-8";
    response.ContentLength = payload.Length;
    if (!HttpMethods.IsHead(request.Method))
    {
        await response.Body.WriteAsync(payload);
    }
});

await app.RunAsync();
return 0;
