using System.Collections.Concurrent;

namespace Manypaths.Demo;

/// <summary>Steady GET traffic through the proxy, counting outcomes and which upstream answered.</summary>
internal sealed class DemoLoad(string url, TimeProvider time)
{
    private long _requests;
    private long _failed;

    public long Requests => Interlocked.Read(ref _requests);
    public long Failed => Interlocked.Read(ref _failed);
    public ConcurrentDictionary<string, long> ServedBy { get; } = new();

    /// <summary>Why requests failed (status and reason, or the client's error), if any did.</summary>
    public ConcurrentDictionary<string, long> Failures { get; } = new();

    /// <summary>"direct" or "via PEER": how each answered request reached its upstream.</summary>
    public ConcurrentDictionary<string, long> Routes { get; } = new();

    public async Task RunAsync(int perSecond, CancellationToken stop)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) }; // what a patient client would wait
        var interval = TimeSpan.FromSeconds(1.0 / perSecond);
        var inFlight = new List<Task>();
        var started = time.GetTimestamp();
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            inFlight.Add(OneAsync(client));
            sent++;
            inFlight.RemoveAll(t => t.IsCompleted);
            var due = interval * sent - time.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(due, time, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await Task.WhenAll(inFlight);
    }

    private async Task OneAsync(HttpClient client)
    {
        Interlocked.Increment(ref _requests);
        try
        {
            using var response = await client.GetAsync(url);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _failed);
                var reason = response.Headers.TryGetValues("X-Manypaths-Reason", out var r) ? $" ({r.First()})" : "";
                Failures.AddOrUpdate($"status {(int)response.StatusCode}{reason}", 1, (_, n) => n + 1);
                return;
            }

            var upstream = response.Headers.TryGetValues("X-Upstream", out var v) ? v.First() : "?";
            ServedBy.AddOrUpdate(upstream, 1, (_, n) => n + 1);
            var via = response.Headers.TryGetValues("X-Via", out var p) ? p.First() : "";
            var relay = via.Split(',').Select(x => x.Trim()).Where(x => x.StartsWith("1.1 manypaths-", StringComparison.Ordinal)).Skip(1).FirstOrDefault();
            Routes.AddOrUpdate(relay is null ? "direct" : "via " + relay["1.1 manypaths-".Length..], 1, (_, n) => n + 1);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Interlocked.Increment(ref _failed);
            Failures.AddOrUpdate(e is TaskCanceledException ? "client timeout" : e.Message, 1, (_, n) => n + 1);
        }
    }
}
