namespace Manypaths.Dns;

/// <summary>An endpoint is healthy when at least the quorum share of the nodes that can be heard sees it healthy.</summary>
internal static class QuorumHealth
{
    public static bool Healthy(IReadOnlyList<(string Node, bool Healthy)> views, double quorum)
    {
        if (views.Count == 0)
        {
            return false;
        }

        var up = 0;
        foreach (var (_, healthy) in views)
        {
            up += healthy ? 1 : 0;
        }

        // A tiny tolerance so 50% of 2 nodes is 1 node, whatever the floating point says.
        return up >= (quorum * views.Count) - 1e-9;
    }
}
