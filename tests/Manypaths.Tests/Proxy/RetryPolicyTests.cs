using Manypaths.Proxy;

namespace Manypaths.Tests.Proxy;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData("GET", true)]
    [InlineData("HEAD", true)]
    [InlineData("PUT", true)]
    [InlineData("DELETE", true)]
    [InlineData("POST", false)]
    [InlineData("PATCH", false)]
    public void IsIdempotent_FollowsRfc9110(string method, bool expected) => Assert.Equal(expected, RetryPolicy.IsIdempotent(method));

    [Fact]
    public void NeverSent_RetriesAnyMethodWhoseBodyCanBeReplayed()
    {
        Assert.True(RetryPolicy.MayRetry(AttemptFailure.NeverSent, idempotent: false, bodyReplayable: true));
        Assert.False(RetryPolicy.MayRetry(AttemptFailure.NeverSent, idempotent: false, bodyReplayable: false));
    }

    [Theory]
    [InlineData("Timeout")]
    [InlineData("Broken")]
    [InlineData("RetryableStatus")]
    public void SentAndFailed_RetriesOnlyIdempotentRequests(string name)
    {
        var failure = Enum.Parse<AttemptFailure>(name);
        Assert.True(RetryPolicy.MayRetry(failure, idempotent: true, bodyReplayable: true));
        Assert.False(RetryPolicy.MayRetry(failure, idempotent: false, bodyReplayable: true));
    }
}
