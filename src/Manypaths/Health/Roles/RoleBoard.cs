using Manypaths.Config;

namespace Manypaths.Health.Roles;

/// <summary>
/// What every upstream of one service last said it is, and the one place that decides whether an upstream is fit
/// for the service: for a primary check, it says primary and no other upstream says so too (or the tie is broken by
/// the sentinels' majority, or for PostgreSQL by the higher timeline; else nobody is fit and the split is reported);
/// for a replica check, it says replica, its link is up and its lag is within max_lag, or it is the primary (the
/// read fallback). Pure: fed reports, reads time from the <see cref="TimeProvider"/>. Thread-safe.
/// </summary>
internal sealed class RoleBoard
{
    private readonly Lock _lock = new();
    private readonly HealthCheckKind _kind;
    private readonly long? _maxLag;
    private readonly IReadOnlyList<(string Name, string Address)> _upstreams;
    private readonly TimeProvider _time;
    private readonly TimeSpan _freshFor;
    private readonly (RoleReport Report, DateTimeOffset At)?[] _reports;
    private readonly RoleVerdict?[] _verdicts;
    private (string Address, DateTimeOffset At)? _sentinelPrimary;

    /// <param name="upstreams">Each upstream's name and address (host:port, as the sentinels name a master).</param>
    /// <param name="freshFor">How long a report counts (a few check intervals): an upstream that stopped answering
    /// is not counted as a second primary after that.</param>
    public RoleBoard(HealthCheckKind kind, long? maxLag, IReadOnlyList<(string Name, string Address)> upstreams, TimeProvider time, TimeSpan freshFor)
    {
        _kind = kind;
        _maxLag = maxLag;
        _upstreams = upstreams;
        _time = time;
        _freshFor = freshFor;
        _reports = new (RoleReport, DateTimeOffset)?[upstreams.Count];
        _verdicts = new RoleVerdict?[upstreams.Count];
    }

    /// <summary>Set while two or more upstreams say they are the primary and nothing breaks the tie: writes are refused.</summary>
    public string? SplitBrain { get; private set; }

    /// <summary>Raised (outside the lock) when <see cref="SplitBrain"/> starts or ends; the text, or null when over.</summary>
    public event Action<string?>? SplitBrainChanged;

    /// <summary>
    /// Raised (outside the lock) for an upstream whose check should run again now: when a split starts, the other
    /// primaries (their reports may predate a demotion that already happened); when it ends, the ones refused because
    /// of it. So a switch made in order (demote, then promote) costs milliseconds, not a check interval.
    /// </summary>
    public event Action<int>? RecheckWanted;

    /// <summary>The last verdict on each upstream (null: never answered).</summary>
    public RoleVerdict? Verdict(int upstream)
    {
        lock (_lock)
        {
            return _verdicts[upstream];
        }
    }

    /// <summary>Whether <paramref name="upstream"/> last said it is the primary (a read service avoids it while a replica is fit).</summary>
    public bool SaysPrimary(int upstream)
    {
        lock (_lock)
        {
            return Fresh(upstream) is { Role: ServerRole.Primary };
        }
    }

    /// <summary>The sentinels' majority named this master address (host:port), or null when they have no majority.</summary>
    public void SentinelsSay(string? address)
    {
        lock (_lock)
        {
            _sentinelPrimary = address is null ? null : (address, _time.GetUtcNow());
        }
    }

    /// <summary>The check of <paramref name="upstream"/> got no answer: it no longer counts as anything.</summary>
    public void NoAnswer(int upstream, string why)
    {
        lock (_lock)
        {
            _reports[upstream] = null;
            _verdicts[upstream] = new RoleVerdict(ServerRole.Unknown, false, why, null, _time.GetUtcNow());
        }

        Recheck();
    }

    /// <summary>Records what <paramref name="upstream"/> said and judges it: the result of its check.</summary>
    public ProbeResult Judge(int upstream, RoleReport report)
    {
        string? splitChanged = null;
        var changed = false;
        ProbeResult result;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            _reports[upstream] = (report, now);
            long? lag = null;
            (result, lag) = _kind.WantsPrimary() ? JudgePrimary(upstream, report) : JudgeReplica(upstream, report);
            _verdicts[upstream] = new RoleVerdict(report.Role, result.Ok, result.Detail, lag, now);
            var split = _kind.WantsPrimary() ? CurrentSplit() : null;
            if (split != SplitBrain)
            {
                SplitBrain = split;
                splitChanged = split;
                changed = true;
            }
        }

        if (changed)
        {
            SplitBrainChanged?.Invoke(splitChanged);
            AskAgain(splitChanged is null ? RefusedPrimaries() : OtherPrimariesLocked(upstream));
        }

        return result;
    }

    private (ProbeResult, long?) JudgePrimary(int upstream, RoleReport report)
    {
        var name = _upstreams[upstream].Name;
        if (report.Role != ServerRole.Primary)
        {
            var what = report.Follows is { } f ? $"role: replica of {f}" : "role: replica";
            return (new ProbeResult(false, report.Detail ?? what, Definitive: true), null);
        }

        var rivals = OtherPrimaries(upstream);
        if (rivals.Count == 0)
        {
            return (new ProbeResult(true, report.Detail ?? "role: primary"), null);
        }

        var names = string.Join(" and ", rivals.Select(r => _upstreams[r].Name).Prepend(name));
        if (_sentinelPrimary is { } s && _time.GetUtcNow() - s.At < _freshFor)
        {
            return SameAddress(_upstreams[upstream].Address, s.Address)
                ? (new ProbeResult(true, $"role: primary ({names} say primary; the sentinels' majority names {s.Address})"), null)
                : (new ProbeResult(false, $"says primary, but the sentinels' majority names {s.Address}", Definitive: true), null);
        }

        if (_kind == HealthCheckKind.PostgresPrimary && report.Timeline is { } mine)
        {
            var highest = rivals.Select(r => Fresh(r)!.Timeline ?? -1).Max();
            if (mine > highest)
            {
                return (new ProbeResult(true, $"role: primary on timeline {mine} (higher than the other primary's {highest})"), null);
            }

            if (mine < highest)
            {
                return (new ProbeResult(false, $"says primary on timeline {mine}, but another says primary on the higher timeline {highest}", Definitive: true), null);
            }
        }

        return (new ProbeResult(false, $"two primaries: {names} all say primary; writes refused until one is demoted", Definitive: true), null);
    }

    private (ProbeResult, long?) JudgeReplica(int upstream, RoleReport report)
    {
        if (report.Role == ServerRole.Primary)
        {
            return (new ProbeResult(true, report.Detail ?? "role: primary (reads go here only when no replica is fit)"), null);
        }

        if (report.Role != ServerRole.Replica)
        {
            return (new ProbeResult(false, report.Detail ?? "role unknown", Definitive: true), null);
        }

        var of = report.Follows is { } f ? $" of {f}" : "";
        if (!report.LinkUp)
        {
            // While a primary answers, reads go there rather than to a replica that stopped following. While none
            // does (a failover under way), a stale read beats no read, as Redis's own replica-serve-stale-data says.
            return AnyFreshPrimary()
                ? (new ProbeResult(false, $"role: replica{of}, link to its primary down", Definitive: true), null)
                : (new ProbeResult(true, $"role: replica{of}, link to its primary down (no primary answers: serving possibly stale reads)"), null);
        }

        long? lag = null;
        for (var i = 0; i < _reports.Length; i++)
        {
            if (i != upstream && Fresh(i) is { Role: ServerRole.Primary, Position: { } primaryAt, History: var history }
                && history == report.History && report.Position is { } replicaAt)
            {
                lag = Math.Max(0, primaryAt - replicaAt);
            }
        }

        var behind = lag is { } b ? $", {Format(b)} behind" : "";
        if (_maxLag is { } max && lag is { } l && l > max)
        {
            return (new ProbeResult(false, $"role: replica{of}{behind} (max_lag {Format(max)})", Definitive: true), lag);
        }

        return (new ProbeResult(true, $"role: replica{of}{behind}"), lag);
    }

    private bool AnyFreshPrimary()
    {
        for (var i = 0; i < _reports.Length; i++)
        {
            if (Fresh(i) is { Role: ServerRole.Primary })
            {
                return true;
            }
        }

        return false;
    }

    private List<int> OtherPrimaries(int upstream)
    {
        var list = new List<int>();
        for (var i = 0; i < _reports.Length; i++)
        {
            if (i != upstream && Fresh(i) is { Role: ServerRole.Primary })
            {
                list.Add(i);
            }
        }

        return list;
    }

    /// <summary>
    /// The split in words while more than one fresh report says primary and no rule picks one of them (the sentinels'
    /// majority, or a strictly higher PostgreSQL timeline). Worked out from the reports alone, so it is set the moment
    /// the second primary answers, before the first one's next check.
    /// </summary>
    private string? CurrentSplit()
    {
        var primaries = Enumerable.Range(0, _reports.Length).Where(i => Fresh(i) is { Role: ServerRole.Primary }).ToList();
        if (primaries.Count < 2)
        {
            return null;
        }

        if (_sentinelPrimary is { } s && _time.GetUtcNow() - s.At < _freshFor && primaries.Any(i => SameAddress(_upstreams[i].Address, s.Address)))
        {
            return null;
        }

        if (_kind == HealthCheckKind.PostgresPrimary)
        {
            var timelines = primaries.Select(i => Fresh(i)!.Timeline ?? -1).Order().ToList();
            if (timelines[^1] > timelines[^2])
            {
                return null;
            }
        }

        return $"{string.Join(" and ", primaries.Select(i => _upstreams[i].Name))} all say primary: writes refused until one is demoted";
    }

    /// <summary>Works the split out again (after an upstream stopped answering) and raises the change, if any.</summary>
    private void Recheck()
    {
        string? split;
        lock (_lock)
        {
            split = _kind.WantsPrimary() ? CurrentSplit() : null;
            if (split == SplitBrain)
            {
                return;
            }

            SplitBrain = split;
        }

        SplitBrainChanged?.Invoke(split);
        if (split is null)
        {
            AskAgain(RefusedPrimaries());
        }
    }

    private void AskAgain(List<int> upstreams)
    {
        foreach (var i in upstreams)
        {
            RecheckWanted?.Invoke(i);
        }
    }

    private List<int> OtherPrimariesLocked(int upstream)
    {
        lock (_lock)
        {
            return OtherPrimaries(upstream);
        }
    }

    /// <summary>Upstreams that last said primary and were judged unfit (refused because of a tie).</summary>
    private List<int> RefusedPrimaries()
    {
        lock (_lock)
        {
            var list = new List<int>();
            for (var i = 0; i < _verdicts.Length; i++)
            {
                if (_verdicts[i] is { Role: ServerRole.Primary, Fit: false })
                {
                    list.Add(i);
                }
            }

            return list;
        }
    }

    private RoleReport? Fresh(int i) => _reports[i] is { } r && _time.GetUtcNow() - r.At < _freshFor ? r.Report : null;

    /// <summary>host:port equality, ignoring case and IPv6 brackets.</summary>
    internal static bool SameAddress(string a, string b) =>
        string.Equals(a.Replace("[", "").Replace("]", ""), b.Replace("[", "").Replace("]", ""), StringComparison.OrdinalIgnoreCase);

    internal static string Format(long bytes) => bytes switch
    {
        < 10_000 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes} B"),
        < 10_000_000 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1000.0:0.#} kB"),
        _ => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1_000_000.0:0.#} MB"),
    };
}
