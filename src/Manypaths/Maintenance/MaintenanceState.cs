using System.Collections.Concurrent;

namespace Manypaths.Maintenance;

public sealed record MaintenanceInfo(string? Message, DateTimeOffset? Until, DateTimeOffset Since);

public sealed record DrainInfo(DateTimeOffset Since);

/// <summary>
/// Operator switches of this node: maintenance (sorry page) per service and drains per upstream. Kept outside
/// the config so they survive reloads; the relay mesh will propagate them cluster-wide.
/// </summary>
internal sealed class MaintenanceState(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, MaintenanceInfo> _maintenance = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Service, string Upstream), DrainInfo> _drains = new();

    public MaintenanceInfo? Maintenance(string service)
    {
        if (!_maintenance.TryGetValue(service, out var info))
        {
            return null;
        }

        if (info.Until is { } until && time.GetUtcNow() >= until)
        {
            _maintenance.TryRemove(KeyValuePair.Create(service, info));
            return null;
        }

        return info;
    }

    public void SetMaintenance(string service, string? message, DateTimeOffset? until) =>
        _maintenance[service] = new MaintenanceInfo(message, until, time.GetUtcNow());

    public bool ClearMaintenance(string service) => _maintenance.TryRemove(service, out _);

    public bool IsDrained(string service, string upstream) => _drains.ContainsKey((service, upstream));

    public DrainInfo? Drain(string service, string upstream) => _drains.GetValueOrDefault((service, upstream));

    public void SetDrain(string service, string upstream) => _drains[(service, upstream)] = new DrainInfo(time.GetUtcNow());

    public bool ClearDrain(string service, string upstream) => _drains.TryRemove((service, upstream), out _);
}
