using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Mesh;

namespace Manypaths.Tests.Mesh;

public sealed class RelayPolicyTests
{
    private static readonly RelayPolicy Policy = new() { LossMargin = 0.05, LatencyMargin = TimeSpan.FromMilliseconds(100) };

    private static HealthSnapshot Direct(double latency, double success) => new(HealthState.Up, latency, success, 0, null, "", null);

    private static RelayPath Relay(double latency, double loss) => new("peer", new Uri("http://127.0.0.1:7400"), latency, loss);

    [Theory]
    [InlineData(40, 0.90, 60, 0.00, true)]   // direct loses 10%, relay nothing: clearly better
    [InlineData(40, 0.97, 60, 0.00, false)]  // 3 points is within the margin: stay direct
    [InlineData(400, 1.0, 80, 0.0, true)]    // direct 320 ms slower than the relay
    [InlineData(120, 1.0, 80, 0.0, false)]   // 40 ms is noise
    [InlineData(double.NaN, 1.0, 80, 0.0, false)]
    public void ClearlyBetter_OnlyBeyondTheMargins(double directLatency, double directSuccess, double relayLatency, double relayLoss, bool expected) =>
        Assert.Equal(expected, RelayPaths.ClearlyBetter(Relay(relayLatency, relayLoss), Direct(directLatency, directSuccess), Policy));
}
