namespace Manypaths.Routing;

/// <summary>What one client request has tried so far, so no path is tried twice; and what it may try at all.</summary>
internal sealed class AttemptHistory
{
    private readonly HashSet<PathKey> _tried = [];

    /// <summary>Set on a node serving a relayed request: only this upstream, only directly, once.</summary>
    public int? Pinned { get; init; }

    /// <summary>How many more peers this request may go through (0: direct paths only).</summary>
    public int HopsLeft { get; init; }

    /// <summary>The least-bad upstream (nothing healthy) is tried once per request.</summary>
    public bool LeastBadUsed { get; set; }

    public int Count => _tried.Count;

    public bool Tried(PathKey path) => _tried.Contains(path);

    public void Add(PathKey path) => _tried.Add(path);
}
