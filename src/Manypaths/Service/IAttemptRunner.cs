using Manypaths.Proxy;

namespace Manypaths.Service;

/// <summary>
/// A front end's side of the attempt loop, for one client request: how to run one attempt on a path (HTTP: send
/// the request; TCP: connect), and what this request allows (hedging, retrying, giving up a waiting attempt).
/// </summary>
internal interface IAttemptRunner<T> where T : class
{
    /// <summary>Runs one attempt on <see cref="Attempt.Path"/>, honouring <see cref="Attempt.Token"/>; never throws.</summary>
    Task<AttemptOutcome<T>> RunAsync(Attempt attempt);

    /// <summary>May this request be hedged (idempotent, no body, no upgrade or stream)?</summary>
    bool MayHedge { get; }

    /// <summary>May a connect be raced, i.e. can two attempts be under way without the request being sent twice?</summary>
    bool MayRace { get; }

    /// <summary>May another path be tried after an attempt failed this way?</summary>
    bool MayRetry(AttemptFailure failure);

    /// <summary>
    /// May <paramref name="attempt"/>, still waiting, be given up and the request started again elsewhere? True for
    /// a request that may be sent twice, or one this attempt provably never sent (and now never will).
    /// </summary>
    bool TryAbandon(Attempt attempt);

    /// <summary>Releases an answer that will not be used (a losing hedge, a replaced retryable status).</summary>
    void Discard(T value);
}
