using Manypaths.Health;

namespace Manypaths.Routing;

/// <summary>What selection needs to know about one upstream at one moment.</summary>
public readonly record struct UpstreamView(int Tier, string? Region, int Weight, bool Drained, HealthSnapshot Health);
