namespace Manypaths.Dns;

/// <summary>
/// How the nodes that can be heard see their direct path to one upstream: this node's own view and each reachable
/// peer's (from its heartbeats). A peer whose link is down is not heard, so it does not count either way.
/// </summary>
internal interface IEndpointViews
{
    /// <summary>One entry per node heard: the node and whether its direct path to the upstream is healthy.</summary>
    IReadOnlyList<(string Node, bool Healthy)> Views(string service, string upstream);

    /// <summary>This node's measured latency to an upstream (ms), NaN when unknown (for the latency policy's next region).</summary>
    double LatencyMs(string service, string upstream);
}
