using Manypaths.Health;
using Manypaths.Proxy;

namespace Manypaths.Service;

/// <summary>How one attempt ended, as the attempt loop sees it.</summary>
internal enum AttemptResult
{
    /// <summary>A usable answer: the request is done.</summary>
    Success,

    /// <summary>An answer with a retry_on status: kept, and another path tried if the request may be re-sent.</summary>
    RetryableStatus,

    /// <summary>A relay answered that it never reached the upstream: free to try another path, for any method.</summary>
    Unreached,

    /// <summary>No answer: see <see cref="AttemptOutcome{T}.Failure"/> for whether it may have been sent.</summary>
    Failed,

    /// <summary>Another attempt of the same request claimed the send first (Service/SendGate): nothing was sent.</summary>
    LostRace,

    /// <summary>Cancelled by the loop or the client: says nothing about the path.</summary>
    Cancelled,
}

/// <param name="Health">What to tell the path's health (null: nothing, e.g. cancelled or a lost race).</param>
internal readonly record struct AttemptOutcome<T>(
    AttemptResult Result,
    T? Value,
    AttemptFailure Failure,
    RequestOutcome? Health,
    TimeSpan Latency,
    string Detail,
    Exception? Error = null)
    where T : class;
