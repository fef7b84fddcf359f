using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.ReverseProxy.Forwarder;

// The least a YARP-based proxy can do: every request goes to one upstream through IHttpForwarder, with the same
// Kestrel and SocketsHttpHandler settings as Manypaths' listeners and per-service handler, and nothing else
// (no routing, health, retries or header transforms beyond YARP's defaults).
//   dotnet BareYarp.dll 127.0.0.1:8080 http://127.0.0.1:9001/
if (args.Length != 2 || !IPEndPoint.TryParse(args[0], out var listen) || !Uri.TryCreate(args[1], UriKind.Absolute, out var upstream))
{
    await Console.Error.WriteLineAsync("usage: BareYarp LISTEN_IP:PORT UPSTREAM_URL   (for example 127.0.0.1:8080 http://127.0.0.1:9001/)");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.Services.AddHttpForwarder();
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.Limits.MaxRequestBodySize = null;
    k.Listen(listen, l => l.Protocols = HttpProtocols.Http1);
});
var app = builder.Build();

using var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    ConnectTimeout = TimeSpan.FromSeconds(1),
    ActivityHeadersPropagator = null,
});
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
var config = new ForwarderRequestConfig
{
    ActivityTimeout = TimeSpan.FromSeconds(60),
    Version = HttpVersion.Version11,
    VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
};
var destinationPrefix = upstream.ToString();

// On a failure YARP has already set the status (502, 504, ...); there is nothing else to do here.
app.Run(async context => _ = await forwarder.SendAsync(context, destinationPrefix, invoker, config, HttpTransformer.Default));

await app.RunAsync();
return 0;
