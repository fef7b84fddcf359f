using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Manypaths.Node;

/// <summary>
/// Builder for the Kestrel servers a node runs inside its process (listeners, admin API, relay endpoint, demo
/// upstreams): no framework logging (ours says it with context), and a lifetime that ignores signals. Only
/// RunCommand decides when they stop (NodeHost.StopAsync, within cluster.shutdown_grace); the console lifetime
/// each would get by default registers its own SIGTERM/SIGINT handlers and marks its server as stopping.
/// </summary>
internal static class EmbeddedWebHost
{
    public static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
        return builder;
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
