using Manypaths.Health;

namespace Manypaths.Mesh;

/// <summary>One peer's view of its own direct path to one upstream, as carried by its heartbeats.</summary>
public readonly record struct RemoteView(string Service, string Upstream, HealthState State, float LatencyMs, float SuccessRate);
