using System.Net;
using Manypaths.Config;
using StackExchange.Redis;

namespace Manypaths.Health.Roles;

/// <summary>
/// Asks one Redis server <c>INFO replication</c> through StackExchange.Redis, over one multiplexer kept between
/// checks (a connect per check would cost a round trip more and a TIME_WAIT socket every 250 ms). The multiplexer
/// reconnects by itself, at the check interval; a command while it is disconnected fails at once, which is a
/// failed check (counted against 'fall'), never a verdict.
/// </summary>
internal sealed class RedisRoleReader : IRoleReader
{
    private readonly ConfigurationOptions _options;
    private readonly EndPoint _endpoint;
    private Task<ConnectionMultiplexer>? _connecting;

    public RedisRoleReader(Uri address, HealthCheckOptions check, string? password)
    {
        _endpoint = new DnsEndPoint(address.Host.Trim('[', ']'), address.Port);
        _options = Options(_endpoint, check.Timeout, check.Interval, check.User, password);
    }

    /// <summary>The options every check connection of ours uses: quick to fail, quiet (no tie-breaker key read,
    /// no configuration channel subscription), named so an operator can spot it in CLIENT LIST.</summary>
    internal static ConfigurationOptions Options(EndPoint endpoint, TimeSpan timeout, TimeSpan interval, string? user, string? password)
    {
        var ms = (int)Math.Max(50, timeout.TotalMilliseconds);
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = ms,
            AsyncTimeout = ms,
            SyncTimeout = ms,
            ConnectRetry = 1,
            ReconnectRetryPolicy = new LinearRetry((int)Math.Max(50, interval.TotalMilliseconds)),
            TieBreaker = "",
            ConfigurationChannel = "",
            ClientName = "manypaths-health",
            AllowAdmin = true,
            User = user,
            Password = password,
        };
        options.EndPoints.Add(endpoint);
        return options;
    }

    public async Task<RoleReport> ReadAsync(CancellationToken cancellationToken)
    {
        var mux = await (_connecting ??= ConnectionMultiplexer.ConnectAsync(_options)).WaitAsync(cancellationToken);
        var info = await mux.GetServer(_endpoint).InfoRawAsync("replication").WaitAsync(cancellationToken);
        return RedisReplicationInfo.Parse(info ?? "");
    }

    public async ValueTask DisposeAsync()
    {
        if (_connecting is { } connecting)
        {
            try
            {
                await (await connecting).DisposeAsync();
            }
            catch (Exception e) when (e is RedisException or ObjectDisposedException)
            {
            }
        }
    }
}
