using Manypaths.Service;

namespace Manypaths.Tests.Service;

public sealed class BudgetAndWindowTests
{
    [Fact]
    public void HedgeBudget_StartsWithABurst_ThenAllowsAboutOneHedgeInTwentyRequests()
    {
        var budget = new HedgeBudget();
        var burst = 0;
        while (budget.TryTake())
        {
            burst++;
        }

        Assert.Equal((int)HedgeBudget.Burst, burst);
        var hedges = 0;
        for (var i = 0; i < 10_000; i++)
        {
            budget.RecordRequest();
            hedges += budget.TryTake() ? 1 : 0;
        }

        Assert.InRange(hedges, 490, 500); // 5% of requests
    }

    [Fact]
    public void HedgeBudget_HedgesThatLose_CostTwice_SoUselessHedgingHalvesItself()
    {
        var budget = new HedgeBudget();
        while (budget.TryTake())
        {
        }

        var hedges = 0;
        for (var i = 0; i < 10_000; i++)
        {
            budget.RecordRequest();
            if (budget.TryTake())
            {
                hedges++;
                budget.Lost();
            }
        }

        Assert.InRange(hedges, 240, 252); // 2.5%: a uniformly slow upstream never gets double load
    }

    [Fact]
    public void LatencyWindow_P95_FollowsTheRecentSamples()
    {
        var window = new LatencyWindow();
        Assert.True(double.IsNaN(window.QuantileMs));
        for (var i = 1; i <= 100; i++)
        {
            window.Add(TimeSpan.FromMilliseconds(i));
        }

        Assert.Equal(95, window.QuantileMs);
        for (var i = 0; i < LatencyWindow.Size; i++)
        {
            window.Add(TimeSpan.FromMilliseconds(250)); // the path got slower: the old samples roll out
        }

        Assert.Equal(250, window.QuantileMs);
    }

    [Fact]
    public void SendGate_OneAttemptAloneSends_AndAnAbandonedOneNeverCan()
    {
        var gate = new SendGate();
        Assert.True(gate.TryAbandon(1)); // attempt 1 never sent: it may be given up, and then never sends
        Assert.False(gate.TryClaim(1));
        Assert.True(gate.TryClaim(2));
        Assert.True(gate.TryClaim(2)); // the owner again (a retried body write)
        Assert.False(gate.TryClaim(3));
        Assert.False(gate.TryAbandon(2)); // it sent: it cannot be given up as unsent
        Assert.Equal(2, gate.Owner);
    }
}
