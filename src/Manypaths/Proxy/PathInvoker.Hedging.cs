using Manypaths.Health;
using Manypaths.Routing;

namespace Manypaths.Proxy;

/// <summary>Hedged requests: see <see cref="HedgedAsync"/>.</summary>
internal sealed partial class PathInvoker
{
    /// <summary>
    /// "Dial every line at once, first answer wins" without the cascade: idempotent requests only; after the hedge
    /// delay with no answer, the next attempt goes out on another path (another upstream, or the same one through
    /// a peer); the first usable response wins and the others are cancelled. Every hedge spends the retry budget.
    /// </summary>
    private async Task<HttpResponseMessage> HedgedAsync(HttpRequestMessage request, string pathAndQuery, ForwardingState state, Config.HedgeOptions hedge, CancellationToken cancellationToken)
    {
        using var losers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task<HedgeResult>>();
        Exception? lastError = null;
        HttpResponseMessage? fallback = null;
        var started = 0;
        try
        {
            while (true)
            {
                // Every attempt after the first (hedge or retry) spends the retry budget, and only when a path exists.
                var next = started < hedge.MaxAttempts ? NextPath(state) : null;
                if (next is not null && started > 0 && !WithdrawRetry())
                {
                    next = null;
                }

                // The delay depends on the paths tried so far, so it is computed once they include this attempt's.
                var hedgeDelay = HedgeDelay(hedge, state);
                if (next is { } path)
                {
                    started++;
                    if (started > 1)
                    {
                        CountRetry(running.Count > 0 ? "hedge" : "retry");
                    }

                    running.Add(HedgeAttemptAsync(request, pathAndQuery, state, path.Pick, path.Via, hedgeDelay, losers.Token));
                }

                if (running.Count == 0)
                {
                    break;
                }

                var delay = started < hedge.MaxAttempts ? Task.Delay(hedgeDelay, service.Time, losers.Token) : Task.Delay(Timeout.InfiniteTimeSpan, service.Time, losers.Token);
                var done = await Task.WhenAny([.. running, delay]);
                if (done == delay)
                {
                    continue; // no answer yet: hedge on the next path
                }

                var finished = (Task<HedgeResult>)done;
                running.Remove(finished);
                var (response, error, usable, upstream, relayed) = await finished;
                if (response is not null && usable)
                {
                    fallback?.Dispose();
                    if (running.Count > 0 && relayed)
                    {
                        state.RelayedHedgeWinner = upstream; // before the losers are cancelled (finally)
                    }

                    return response;
                }

                if (response is not null)
                {
                    fallback?.Dispose();
                    fallback = response; // a retryable status: keep it in case nothing better comes
                }

                lastError = error ?? lastError;
                if (error is not null && running.Count == 0 && started >= hedge.MaxAttempts)
                {
                    break;
                }
            }
        }
        finally
        {
            await losers.CancelAsync();
            foreach (var t in running)
            {
                _ = t.ContinueWith(static t => t.Result.Response?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }
        }

        if (fallback is not null)
        {
            return fallback;
        }

        throw lastError is null
            ? new NoUpstreamException(service.Name)
            : new HttpRequestException($"Every hedged attempt for service '{service.Name}' failed: {Describe(lastError)}", lastError);
    }

    private (Pick Pick, Mesh.RelayPath? Via)? NextPath(ForwardingState state)
    {
        var (pick, via) = ChoosePath(state, allowLeastBad: state.Attempts == 0);
        if (!pick.Found)
        {
            state.NothingToTry |= state.Attempts == 0;
            return null;
        }

        if (via is not null)
        {
            state.RelayTried.Add((pick.Index, via.Peer));
        }
        else
        {
            state.Tried.Add(pick.Index);
        }

        state.Attempts++;
        return (pick, via);
    }

    /// <summary>One hedged attempt's end: a response (usable or a retryable status) or an error, and its path.</summary>
    private readonly record struct HedgeResult(HttpResponseMessage? Response, Exception? Error, bool Usable, int Upstream, bool Relayed);

    /// <summary>Configured delay, or adaptive: twice the chosen paths' latency, between 5 ms and half the first-byte timeout.</summary>
    private TimeSpan HedgeDelay(Config.HedgeOptions hedge, ForwardingState state)
    {
        if (hedge.Delay is { } fixedDelay)
        {
            return fixedDelay;
        }

        var latency = state.Tried.Select(i => service.Upstreams[i].Health.Snapshot().LatencyMs).Where(l => !double.IsNaN(l)).DefaultIfEmpty(50).Max();
        return TimeSpan.FromMilliseconds(Math.Clamp(latency * 2, 5, service.Options.Timeouts.FirstByte.TotalMilliseconds / 2));
    }

    private async Task<HedgeResult> HedgeAttemptAsync(
        HttpRequestMessage original, string pathAndQuery, ForwardingState state, Pick pick, Mesh.RelayPath? via, TimeSpan hedgeDelay, CancellationToken cancellationToken)
    {
        var upstream = service.Upstreams[pick.Index];
        using var attempt = BuildAttempt(original, TargetFor(upstream, via, pathAndQuery), state, null);
        SetMeshHeaders(attempt, upstream, via, state);

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var firstByte = Deadline.Start(linked, service.Options.Timeouts.FirstByte, service.Time);
        var started = service.Time.GetTimestamp();
        try
        {
            var response = await base.SendAsync(attempt, linked.Token);
            var status = (int)response.StatusCode;
            if (via is null)
            {
                upstream.Health.ReportRequest(service.PassiveBadStatus.Contains(status) ? RequestOutcome.BadStatus : RequestOutcome.Success, service.Time.GetElapsedTime(started), $"status {status}");
            }

            state.NeverReachedUpstream = false;
            var usable = !service.RetryStatus.Contains(status);
            CountAttempt(upstream, usable ? "response" : "status_" + status);
            if (usable)
            {
                state.ServedBy = upstream;
            }

            return new HedgeResult(response, null, usable, pick.Index, via is not null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var failure = Classify(e, linked.IsCancellationRequested);
            if (via is null)
            {
                upstream.Health.ReportRequest(failure switch
                {
                    AttemptFailure.NeverSent => RequestOutcome.ConnectFailed,
                    AttemptFailure.Timeout => RequestOutcome.Timeout,
                    _ => RequestOutcome.Broken,
                }, service.Time.GetElapsedTime(started), Describe(e));
            }
            else
            {
                service.Relay!.Paths.Failed(via.Peer, service.Name, upstream.Name);
            }

            CountAttempt(upstream, failure.ToString().ToLowerInvariant());
            return new HedgeResult(null, e, false, pick.Index, via is not null);
        }
        catch (OperationCanceledException e)
        {
            // Another path answered first. When that was the same upstream through a peer and this direct attempt
            // had already waited a whole hedge delay, the direct path (not the upstream) was slow: its success
            // rate learns it (loss inferred from delay), so a lossy path gives way to the relay.
            var elapsed = service.Time.GetElapsedTime(started);
            if (via is null && state.RelayedHedgeWinner == pick.Index && elapsed >= hedgeDelay)
            {
                upstream.Health.ReportRequest(RequestOutcome.Outpaced, elapsed, "another path answered first");
            }

            CountAttempt(upstream, "hedge_cancelled");
            return new HedgeResult(null, e, false, pick.Index, via is not null);
        }
    }
}
