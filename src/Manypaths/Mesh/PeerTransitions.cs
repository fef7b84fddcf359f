using Microsoft.Extensions.Logging;

namespace Manypaths.Mesh;

/// <summary>
/// Logs each peer link's transitions, seen once per heartbeat by the send loop. Losing a peer that was up is a
/// warning (how long since it was heard, how long it had been up), and so is its return (how long it was down);
/// what happens while a cluster starts (a peer first heard, or not heard yet) is information. A peer announcing
/// its own shutdown is information. Used by that one loop only, so it needs no lock.
/// </summary>
internal sealed partial class PeerTransitions(TimeProvider time, ILogger logger)
{
    /// <summary>A peer never heard for this long after this node started is worth a warning, once.</summary>
    internal static readonly TimeSpan NeverHeardWarning = TimeSpan.FromMinutes(1);

    private sealed class Peer(DateTimeOffset since)
    {
        public DateTimeOffset Created { get; } = since;
        public bool WarnedNeverHeard { get; set; }
        public LinkState State { get; set; } = LinkState.Unknown;
        public DateTimeOffset Since { get; set; } = since;
        public bool EverUp { get; set; }
        public bool Draining { get; set; }
    }

    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal);

    /// <returns>True when the peer just stopped being usable for relaying (its link went down, or it started draining).</returns>
    public bool Observe(string peer, LinkSnapshot link)
    {
        var gone = false;
        var now = time.GetUtcNow();
        if (!_peers.TryGetValue(peer, out var p))
        {
            _peers[peer] = p = new Peer(now);
        }

        if (link.State != p.State && link.State != LinkState.Unknown)
        {
            var lasted = Format(now - p.Since);
            switch (link.State)
            {
                case LinkState.Down when p.EverUp:
                    var quiet = link.LastHeard is { } heard ? Format(now - heard) : "a while";
                    Log.PeerDown(logger, peer, quiet, lasted);
                    break;
                case LinkState.Down:
                    Log.PeerNotHeardYet(logger, peer, Format(now - p.Since));
                    break;
                case LinkState.Up when p.EverUp:
                    Log.PeerBack(logger, peer, lasted, Rtt(link.RttMs));
                    break;
                case LinkState.Up:
                    Log.PeerUp(logger, peer, Rtt(link.RttMs));
                    break;
            }

            gone |= link.State == LinkState.Down && p.State == LinkState.Up;
            p.EverUp |= link.State == LinkState.Up;
            p.State = link.State;
            p.Since = now;
        }

        if (!p.EverUp && !p.WarnedNeverHeard && p.State == LinkState.Down && now - p.Created >= NeverHeardWarning)
        {
            p.WarnedNeverHeard = true;
            Log.PeerNeverHeard(logger, peer, Format(now - p.Created));
        }

        if (link.Draining && !p.Draining)
        {
            gone = true;
            Log.PeerDraining(logger, peer);
        }

        p.Draining = link.Draining;
        return gone;
    }

    private static string Rtt(double ms) => double.IsFinite(ms) ? $"rtt {ms:0.0} ms" : "rtt not measured yet";

    /// <summary>"850 ms", "12 s", "3m 12s", "2h 5m".</summary>
    internal static string Format(TimeSpan t) =>
        t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0} ms"
        : t.TotalMinutes < 1 ? $"{t.TotalSeconds:0.#} s"
        : t.TotalHours < 1 ? $"{(int)t.TotalMinutes}m {t.Seconds}s"
        : $"{(int)t.TotalHours}h {t.Minutes}m";

    private static partial class Log
    {
        [LoggerMessage(EventId = 4010, EventName = "PeerDown", Level = LogLevel.Warning, Message = "Peer {Peer} is down: nothing heard for {Quiet} (it was up for {Lasted}); nothing is relayed through it until it is heard again")]
        public static partial void PeerDown(ILogger logger, string peer, string quiet, string lasted);

        [LoggerMessage(EventId = 4011, EventName = "PeerBack", Level = LogLevel.Warning, Message = "Peer {Peer} is up again after {Down} down ({Rtt})")]
        public static partial void PeerBack(ILogger logger, string peer, string down, string rtt);

        [LoggerMessage(EventId = 4012, EventName = "PeerUp", Level = LogLevel.Information, Message = "Peer {Peer} is up ({Rtt})")]
        public static partial void PeerUp(ILogger logger, string peer, string rtt);

        [LoggerMessage(EventId = 4015, EventName = "PeerNeverHeard", Level = LogLevel.Warning, Message = "Peer {Peer} has not been heard in the {Since} since this node started: check its mesh address, that both hold the same cluster secret, and that UDP and TCP pass between them")]
        public static partial void PeerNeverHeard(ILogger logger, string peer, string since);

        [LoggerMessage(EventId = 4014, EventName = "PeerNotHeardYet", Level = LogLevel.Information, Message = "Peer {Peer} not heard yet ({Since} after this node started); it counts as down until it is")]
        public static partial void PeerNotHeardYet(ILogger logger, string peer, string since);

        [LoggerMessage(EventId = 4013, EventName = "PeerDraining", Level = LogLevel.Information, Message = "Peer {Peer} is shutting down: nothing new is relayed through it")]
        public static partial void PeerDraining(ILogger logger, string peer);
    }
}
