namespace Manypaths.Routing;

/// <summary>What one client request has tried so far, so no path is tried twice; and what it may try at all.</summary>
internal sealed class AttemptHistory
{
    // Most requests try one path, a few two or three: a field and a short list, not a hash set per request.
    private PathKey? _first;
    private List<PathKey>? _more;

    /// <summary>Set on a node serving a relayed request: only this upstream, only directly, once.</summary>
    public int? Pinned { get; init; }

    /// <summary>How many more peers this request may go through (0: direct paths only).</summary>
    public int HopsLeft { get; init; }

    /// <summary>The least-bad upstream (nothing healthy) is tried once per request.</summary>
    public bool LeastBadUsed { get; set; }

    public int Count => (_first is null ? 0 : 1) + (_more?.Count ?? 0);

    public bool Tried(PathKey path) => _first == path || (_more is not null && _more.Contains(path));

    public void Add(PathKey path)
    {
        if (_first is null)
        {
            _first = path;
        }
        else if (!Tried(path))
        {
            (_more ??= []).Add(path);
        }
    }
}
