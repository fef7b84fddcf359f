using Microsoft.AspNetCore.Http;

namespace Manypaths.Proxy;

/// <summary>Whether a failed attempt may be tried again on another path. Never sends a request twice unless safe.</summary>
internal static class RetryPolicy
{
    /// <summary>RFC 9110 section 9.2.2: methods whose repetition has the same effect as one request.</summary>
    public static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) ||
        HttpMethods.IsTrace(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method);

    /// <param name="bodyReplayable">The body is buffered, absent, or was never read (so it can be sent again).</param>
    public static bool MayRetry(AttemptFailure failure, bool idempotent, bool bodyReplayable) => failure switch
    {
        AttemptFailure.None => false,
        AttemptFailure.NeverSent => bodyReplayable,
        _ => idempotent && bodyReplayable,
    };
}
