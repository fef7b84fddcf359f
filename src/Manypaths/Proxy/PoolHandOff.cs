using System.Diagnostics.Metrics;
using Manypaths.Service;

namespace Manypaths.Proxy;

/// <summary>
/// Tells an attempt when its request takes a connection from SocketsHttpHandler's pool after waiting for one.
/// <para>
/// A request that finds no idle connection waits in the pool's queue and makes a connect of its own, but it takes
/// whichever connection comes free first: in a burst, often one that another request just finished with, while its own
/// connect is still pending. The attempt loop must know, or it would race that "slow connect" and send the request a
/// second time. The handler records each wait in its <c>http.client.request.time_in_queue</c> histogram the moment the
/// request leaves the queue, before it sends, on the request's own async flow. So a listener on that one instrument
/// finds the attempt in an <see cref="AsyncLocal{T}"/> set just before the attempt sends (<see cref="Enter"/>).
/// Only requests that had to wait pay for it (the handler measures nothing for one that found an idle connection).
/// </para>
/// </summary>
internal static class PoolHandOff
{
    private const string MeterName = "System.Net.Http";
    private const string InstrumentName = "http.client.request.time_in_queue";

    private static readonly AsyncLocal<Attempt?> Current = new();
    private static readonly MeterListener Listener = Start();

    /// <summary>Makes sure the listener runs (before the first pool is built, so its instrument is enabled).</summary>
    public static void EnsureListening() => GC.KeepAlive(Listener);

    /// <summary>The attempt about to send on this async flow (set inside the attempt's own async method).</summary>
    public static void Enter(Attempt attempt) => Current.Value = attempt;

    private static MeterListener Start()
    {
        var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == MeterName && instrument.Name == InstrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => Current.Value?.TookConnection());
        listener.Start();
        return listener;
    }
}
