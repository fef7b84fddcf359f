namespace Manypaths.Proxy;

/// <summary>No upstream could be tried at all (every one drained or already tried).</summary>
internal sealed class NoUpstreamException(string service) : Exception($"Service '{service}' has no upstream to try.");
