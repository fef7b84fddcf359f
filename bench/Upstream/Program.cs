using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// A minimal upstream for proxy benchmarks: GET / answers a small fixed body, GET /healthz answers 200, the rest 404.
//   dotnet Upstream.dll 127.0.0.1:9001
if (args.Length != 1 || !IPEndPoint.TryParse(args[0], out var listen))
{
    await Console.Error.WriteLineAsync("usage: Upstream LISTEN_IP:PORT   (for example 127.0.0.1:9001)");
    return 2;
}

var body = "Hello from the Manypaths bench upstream.\n"u8.ToArray();
var ok = "ok\n"u8.ToArray();

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.Listen(listen, l => l.Protocols = HttpProtocols.Http1);
});
var app = builder.Build();

app.Run(context =>
{
    var request = context.Request;
    var response = context.Response;
    var payload = (request.Method, request.Path.Value) switch
    {
        ("GET" or "HEAD", "/") => body,
        ("GET" or "HEAD", "/healthz") => ok,
        _ => null,
    };
    if (payload is null)
    {
        response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    response.ContentType = "text/plain; charset=utf-8";
    response.ContentLength = payload.Length;
    return HttpMethods.IsHead(request.Method) ? Task.CompletedTask : response.Body.WriteAsync(payload).AsTask();
});

await app.RunAsync();
return 0;
