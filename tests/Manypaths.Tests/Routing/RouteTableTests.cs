using Manypaths.Config;
using Manypaths.Routing;

namespace Manypaths.Tests.Routing;

public sealed class RouteTableTests
{
    private readonly RouteTable _table = new([
        new ListenerRoute(null, "/auth/", "control"),
        new ListenerRoute("admin.example.com", null, "control"),
        new ListenerRoute(null, "/api", "api"),
        new ListenerRoute(null, "/", "local"),
    ]);

    [Theory]
    [InlineData("app.local:8090", "/auth/login", "control")]
    [InlineData("app.local", "/auth", "control")]
    [InlineData("ADMIN.example.com:8090", "/anything", "control")]
    [InlineData("app.local", "/api/v1", "api")]
    [InlineData("app.local", "/apiary", "local")]
    [InlineData("app.local", "/", "local")]
    public void Match_PicksHostThenLongestPrefix(string host, string path, string expected) =>
        Assert.Equal(expected, _table.Match(host, path));

    [Fact]
    public void Match_WithoutCatchAll_ReturnsNull() =>
        Assert.Null(new RouteTable([new ListenerRoute(null, "/auth/", "control")]).Match("h", "/other"));
}
