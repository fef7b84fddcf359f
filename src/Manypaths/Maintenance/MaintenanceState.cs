using System.Collections.Concurrent;

namespace Manypaths.Maintenance;

public sealed record MaintenanceInfo(string? Message, DateTimeOffset? Until, DateTimeOffset Since);

public sealed record DrainInfo(DateTimeOffset Since);

public enum SwitchKind : byte
{
    Maintenance = 1,
    Drain = 2,
}

/// <summary>
/// One operator switch, on or off, with who set it and when. Switches spread through the mesh and the newest
/// (stamp, origin) wins everywhere, so every node converges and a node that rejoins catches up from its peers.
/// </summary>
public sealed record SwitchEntry(SwitchKind Kind, string Service, string Upstream, bool On, string? Message, DateTimeOffset? Until, long Stamp, string Origin)
{
    public bool NewerThan(SwitchEntry other) =>
        Stamp > other.Stamp || (Stamp == other.Stamp && string.CompareOrdinal(Origin, other.Origin) > 0);
}

/// <summary>
/// Operator switches: maintenance (sorry page) per service and drains per upstream. Kept outside the config so
/// they survive reloads; merged cluster-wide through the mesh heartbeats (last writer wins).
/// </summary>
internal sealed class MaintenanceState(TimeProvider time, string origin = "local")
{
    private readonly ConcurrentDictionary<(SwitchKind, string, string), SwitchEntry> _switches = new();
    private readonly Lock _stampLock = new();
    private long _lastStamp;

    /// <summary>Raised when a switch changes here, whether set locally or learnt from a peer.</summary>
    public event Action<SwitchEntry>? Changed;

    public MaintenanceInfo? Maintenance(string service)
    {
        if (!_switches.TryGetValue((SwitchKind.Maintenance, service, ""), out var e) || !e.On)
        {
            return null;
        }

        return e.Until is { } until && time.GetUtcNow() >= until ? null : new MaintenanceInfo(e.Message, e.Until, DateTimeOffset.FromUnixTimeMilliseconds(e.Stamp));
    }

    public SwitchEntry SetMaintenance(string service, string? message, DateTimeOffset? until) => Set(SwitchKind.Maintenance, service, "", true, message, until);

    /// <returns>Whether maintenance was on; <paramref name="entry"/> is the "off" switch that now spreads.</returns>
    public bool ClearMaintenance(string service, out SwitchEntry entry)
    {
        var was = Maintenance(service) is not null;
        entry = Set(SwitchKind.Maintenance, service, "", false, null, null);
        return was;
    }

    public bool ClearMaintenance(string service) => ClearMaintenance(service, out _);

    public bool IsDrained(string service, string upstream) =>
        _switches.TryGetValue((SwitchKind.Drain, service, upstream), out var e) && e.On;

    public DrainInfo? Drain(string service, string upstream) =>
        _switches.TryGetValue((SwitchKind.Drain, service, upstream), out var e) && e.On ? new DrainInfo(DateTimeOffset.FromUnixTimeMilliseconds(e.Stamp)) : null;

    public SwitchEntry SetDrain(string service, string upstream) => Set(SwitchKind.Drain, service, upstream, true, null, null);

    /// <returns>Whether the upstream was drained; <paramref name="entry"/> is the "undrain" switch that now spreads.</returns>
    public bool ClearDrain(string service, string upstream, out SwitchEntry entry)
    {
        var was = IsDrained(service, upstream);
        entry = Set(SwitchKind.Drain, service, upstream, false, null, null);
        return was;
    }

    /// <summary>Every switch, on and off (an "off" must travel too, or an old "on" would come back).</summary>
    public IReadOnlyList<SwitchEntry> Snapshot() => _switches.Values.ToList();

    /// <summary>Takes a peer's switches; each one replaces ours only if it is newer.</summary>
    public void Merge(IEnumerable<SwitchEntry> entries)
    {
        foreach (var e in entries)
        {
            var key = (e.Kind, e.Service, e.Upstream);
            while (true)
            {
                if (_switches.TryGetValue(key, out var current))
                {
                    if (!e.NewerThan(current))
                    {
                        break;
                    }

                    if (_switches.TryUpdate(key, e, current))
                    {
                        Changed?.Invoke(e);
                        break;
                    }
                }
                else if (_switches.TryAdd(key, e))
                {
                    Changed?.Invoke(e);
                    break;
                }
            }
        }
    }

    private SwitchEntry Set(SwitchKind kind, string service, string upstream, bool on, string? message, DateTimeOffset? until)
    {
        long stamp;
        lock (_stampLock)
        {
            // Milliseconds, but strictly increasing here so two quick changes keep their order, and newer than what
            // this node holds for the key: an operator's change here wins even over a peer whose clock runs ahead.
            var seen = _switches.TryGetValue((kind, service, upstream), out var current) ? current.Stamp + 1 : 0;
            stamp = Math.Max(Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds(), _lastStamp + 1), seen);
            _lastStamp = stamp;
        }

        var entry = new SwitchEntry(kind, service, upstream, on, message, until, stamp, origin);
        _switches[(kind, service, upstream)] = entry;
        Changed?.Invoke(entry);
        return entry;
    }
}
