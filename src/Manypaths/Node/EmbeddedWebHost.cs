using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Manypaths.Node;

/// <summary>
/// Builder for the Kestrel servers a node runs inside its process (listeners, admin API, relay endpoint, demo
/// upstreams): no configuration files, no framework logging (ours says it with context), and a lifetime that ignores
/// signals. Only RunCommand decides when they stop (NodeHost.StopAsync, within cluster.shutdown_grace); the console
/// lifetime each would get by default registers its own SIGTERM/SIGINT handlers and marks its server as stopping.
/// </summary>
internal static class EmbeddedWebHost
{
    public static WebApplicationBuilder CreateBuilder()
    {
        // No appsettings.json from wherever the daemon was started, and no file watcher (a thread each) per server.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
        // The host would cap every stop at its own 30 s; the caller's grace token is the only limit.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Timeout.InfiniteTimeSpan);
        return builder;
    }

    /// <summary>
    /// Starts the server; a bind failure of any kind ("address in use" comes as an IOException, "permission
    /// denied" or "address not available" as a bare SocketException) becomes one IOException naming the address.
    /// </summary>
    public static async Task StartOrExplainAsync(this WebApplication app, System.Net.IPEndPoint endpoint, string what, CancellationToken cancellationToken)
    {
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync();
            throw new IOException($"Cannot listen on {endpoint} ({what}): {e.Message}", e);
        }
    }

    /// <summary>
    /// Stops accepting at once and lets requests in flight finish for up to <paramref name="grace"/> (or until
    /// <paramref name="now"/> is cancelled); then Kestrel cuts what is left.
    /// </summary>
    public static async Task StopGracefullyAsync(this WebApplication app, TimeSpan grace, CancellationToken now = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(now);
        cts.CancelAfter(grace);
        try
        {
            await app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class SignalFreeLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
