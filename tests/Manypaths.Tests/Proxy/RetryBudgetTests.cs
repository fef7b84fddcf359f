using Manypaths.Proxy;
using Manypaths.Tests.Support;

namespace Manypaths.Tests.Proxy;

public sealed class RetryBudgetTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void QuietService_CanStillRetryUpToTheFloor()
    {
        var budget = new RetryBudget(0.2, minPerSecond: 1, _time);
        var allowed = Enumerable.Range(0, 20).Count(_ => budget.TryWithdraw());
        Assert.Equal(10, allowed); // 1 per second over a 10 s window
    }

    [Fact]
    public void BusyService_RetriesCappedAtRatioOfRequests()
    {
        var budget = new RetryBudget(0.2, minPerSecond: 0, _time);
        for (var i = 0; i < 1000; i++)
        {
            budget.RecordRequest();
        }

        var allowed = Enumerable.Range(0, 1000).Count(_ => budget.TryWithdraw());
        Assert.Equal(200, allowed);
    }

    [Fact]
    public void Window_Slides_OldRequestsStopFundingRetries()
    {
        var budget = new RetryBudget(0.5, minPerSecond: 0, _time);
        for (var i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(budget.TryWithdraw());
    }
}
