namespace Manypaths.Routing;

/// <summary>What one client request has tried so far, so no path is tried twice; and what it may try at all.</summary>
internal sealed class AttemptHistory
{
    // Most requests try one path, a few two or three: a field and a short list, not a hash set per request.
    private PathKey? _first;
    private List<PathKey>? _more;

    /// <summary>Set on a node serving a relayed request: only this upstream, only directly, once.</summary>
    public int? Pinned { get; init; }

    /// <summary>Not a request: a question about where one would go (<see cref="PathChooser.Standby"/>). The chooser
    /// answers it as it would a request, but keeps its region memory as it is.</summary>
    public bool WhatIf { get; init; }

    /// <summary>How many more peers this request may go through (0: direct paths only).</summary>
    public int HopsLeft { get; init; }

    /// <summary>The least-bad upstream (nothing healthy) is tried once per request.</summary>
    public bool LeastBadUsed { get; set; }

    /// <summary>Upstreams whose own side answered this request that they are gone (a refused connect, a reset or a
    /// closed connection): a bit per upstream index, the first 64.</summary>
    private ulong _answeredDown;

    /// <summary>This request's attempt on <paramref name="upstream"/> was refused or reset by the upstream's side.</summary>
    public void MarkAnsweredDown(int upstream)
    {
        if (upstream < 64)
        {
            _answeredDown |= 1UL << upstream;
        }
    }

    /// <summary>Whether this request already heard from <paramref name="upstream"/>'s side that it is gone.</summary>
    public bool AnsweredDown(int upstream) => upstream < 64 && (_answeredDown & (1UL << upstream)) != 0;

    /// <summary>Upstreams this request must not use, on any path (a bit per index, the first 64).</summary>
    private ulong _avoided;

    /// <summary>Keeps this request off <paramref name="upstream"/> (a read service's first pass avoids the primary).</summary>
    public void Avoid(int upstream)
    {
        if (upstream < 64)
        {
            _avoided |= 1UL << upstream;
        }
    }

    public bool Tried(PathKey path) =>
        _first == path || (_more is not null && _more.Contains(path)) || (_avoided != 0 && path.Upstream < 64 && (_avoided & (1UL << path.Upstream)) != 0);

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
