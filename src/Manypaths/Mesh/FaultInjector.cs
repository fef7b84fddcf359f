using System.Collections.Concurrent;

namespace Manypaths.Mesh;

public enum FaultKind
{
    /// <summary>Packets vanish: connects time out, open connections stall, heartbeats are lost.</summary>
    Blackhole,

    /// <summary>Connections are refused or reset at once.</summary>
    Reset,

    /// <summary>A share of connects and heartbeats is lost (Percent).</summary>
    Loss,

    /// <summary>Every connect and every read on the link waits this long first (Delay), as on a slow path.</summary>
    Delay,
}

public sealed record Fault(FaultKind Kind, int Percent = 100, TimeSpan Delay = default);

/// <summary>
/// The in-process fault layer: faults on this node's link to one target (host:port of an upstream or a peer's
/// mesh address). Consulted by every TCP connect (proxy, relay, probes), every open upstream stream and every
/// heartbeat, so a test or a drill can break one link of one node without touching the others.
/// </summary>
public sealed class FaultInjector
{
    private readonly ConcurrentDictionary<string, Fault> _faults = new(StringComparer.OrdinalIgnoreCase);

    public bool Any => !_faults.IsEmpty;

    public void Set(string target, Fault fault) => _faults[target] = fault;

    public void Clear(string target) => _faults.TryRemove(target, out _);

    public void ClearAll() => _faults.Clear();

    public Fault? For(string host, int port) => _faults.IsEmpty ? null : _faults.GetValueOrDefault($"{host}:{port}");

    /// <summary>True when this one packet/connect should be lost under the link's fault.</summary>
    public bool Drops(string host, int port)
    {
        var f = For(host, port);
        return f is { Kind: FaultKind.Blackhole } || (f is { Kind: FaultKind.Loss } && Random.Shared.Next(100) < f.Percent);
    }
}
