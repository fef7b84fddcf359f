using Microsoft.Extensions.Logging;

namespace Manypaths.Mesh;

/// <summary>
/// Logs each peer link's transitions, seen once per heartbeat by the send loop: a peer going down (warning, with how
/// long it had been up and when it was last heard), coming back (warning, with how long it was down), first heard
/// at start (information), and announcing its own shutdown. Used by that one loop only, so it needs no lock.
/// </summary>
internal sealed partial class PeerTransitions(TimeProvider time, ILogger logger)
{
    private readonly Dictionary<string, (LinkState State, bool Draining, DateTimeOffset Since)> _last = new(StringComparer.Ordinal);

    public void Observe(string peer, LinkSnapshot link)
    {
        var now = time.GetUtcNow();
        if (!_last.TryGetValue(peer, out var last))
        {
            last = (LinkState.Unknown, false, now);
        }

        if (link.State != last.State)
        {
            var lasted = Format(now - last.Since);
            switch (link.State)
            {
                case LinkState.Down:
                    var quiet = link.LastHeard is { } heard ? $"nothing heard for {Format(now - heard)}" : "never heard since this node started";
                    Log.PeerDown(logger, peer, quiet, last.State == LinkState.Up ? $"it was up for {lasted}" : "it was never up");
                    break;
                case LinkState.Up when last.State == LinkState.Down:
                    Log.PeerBack(logger, peer, lasted, link.RttMs);
                    break;
                case LinkState.Up:
                    Log.PeerUp(logger, peer, link.RttMs);
                    break;
            }

            last = (link.State, last.Draining, now);
        }

        if (link.Draining && !last.Draining)
        {
            Log.PeerDraining(logger, peer);
        }

        _last[peer] = (last.State, link.Draining, last.Since);
    }

    /// <summary>"850 ms", "12 s", "3m 12s", "2h 5m".</summary>
    internal static string Format(TimeSpan t) =>
        t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0} ms"
        : t.TotalMinutes < 1 ? $"{t.TotalSeconds:0.#} s"
        : t.TotalHours < 1 ? $"{(int)t.TotalMinutes}m {t.Seconds}s"
        : $"{(int)t.TotalHours}h {t.Minutes}m";

    private static partial class Log
    {
        [LoggerMessage(EventId = 4010, EventName = "PeerDown", Level = LogLevel.Warning, Message = "Peer {Peer} is down: {Quiet} ({Lasted}); nothing is relayed through it until it is heard again")]
        public static partial void PeerDown(ILogger logger, string peer, string quiet, string lasted);

        [LoggerMessage(EventId = 4011, EventName = "PeerBack", Level = LogLevel.Warning, Message = "Peer {Peer} is up again after {Down} down (rtt {RttMs:0.0} ms)")]
        public static partial void PeerBack(ILogger logger, string peer, string down, double rttMs);

        [LoggerMessage(EventId = 4012, EventName = "PeerUp", Level = LogLevel.Information, Message = "Peer {Peer} is up (rtt {RttMs:0.0} ms)")]
        public static partial void PeerUp(ILogger logger, string peer, double rttMs);

        [LoggerMessage(EventId = 4013, EventName = "PeerDraining", Level = LogLevel.Information, Message = "Peer {Peer} is shutting down: nothing new is relayed through it")]
        public static partial void PeerDraining(ILogger logger, string peer);
    }
}
