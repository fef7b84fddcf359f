using System.Net;
using Manypaths.Config;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Manypaths.Health.Roles;

/// <summary>
/// Asks every configured Redis sentinel, each check interval, which address it names as the master, and tells the
/// board the majority's answer (more than half of all configured sentinels must agree), or that there is none.
/// Used only to break a tie when two servers say they are the primary.
/// </summary>
internal sealed partial class SentinelWatch : IAsyncDisposable
{
    private readonly SentinelOptions _options;
    private readonly RoleBoard _board;
    private readonly HealthCheckOptions _check;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(EndPoint Endpoint, Task<ConnectionMultiplexer> Connecting)> _sentinels = [];
    private Task? _loop;
    private string? _last;

    public SentinelWatch(SentinelOptions options, RoleBoard board, HealthCheckOptions check, TimeProvider time, ILogger logger)
    {
        _options = options;
        _board = board;
        _check = check;
        _time = time;
        _logger = logger;
    }

    public void Start()
    {
        string? password = null;
        try
        {
            password = _options.PasswordFile is { } file ? File.ReadAllText(file).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Unreadable(_logger, _options.Master, e.Message); // the sentinels then refuse us, and no majority is known
        }

        foreach (var address in _options.Addresses)
        {
            var options = RedisRoleReader.Options(address, _check.Timeout, _check.Interval, null, password);
            options.CommandMap = CommandMap.Sentinel;
            options.ServiceName = null;
            _sentinels.Add((address, ConnectionMultiplexer.ConnectAsync(options)));
        }

        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var answers = await Task.WhenAll(_sentinels.Select(s => AskAsync(s.Endpoint, s.Connecting, stop)));
                var majority = answers.OfType<string>().GroupBy(a => a, StringComparer.OrdinalIgnoreCase)
                    .FirstOrDefault(g => g.Count() * 2 > _sentinels.Count)?.Key;
                _board.SentinelsSay(majority);
                if (majority != _last)
                {
                    Log.Majority(_logger, _options.Master, majority ?? "nobody (no majority)", answers.Count(a => a is not null), _sentinels.Count);
                    _last = majority;
                }

                await Task.Delay(_check.Interval, _time, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task<string?> AskAsync(EndPoint endpoint, Task<ConnectionMultiplexer> connecting, CancellationToken stop)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(_check.Timeout);
            var mux = await connecting.WaitAsync(timeout.Token);
            var master = await mux.GetServer(endpoint).SentinelGetMasterAddressByNameAsync(_options.Master).WaitAsync(timeout.Token);
            return master switch
            {
                IPEndPoint ip => $"{ip.Address}:{ip.Port}",
                DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
                _ => null,
            };
        }
        catch (Exception e) when (e is RedisException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        foreach (var (_, connecting) in _sentinels)
        {
            try
            {
                await (await connecting).DisposeAsync();
            }
            catch (Exception e) when (e is RedisException or ObjectDisposedException)
            {
            }
        }

        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2102, EventName = "SentinelPasswordUnreadable", Level = LogLevel.Error,
            Message = "Sentinels of {Master}: cannot read the password file: {Error}")]
        public static partial void Unreadable(ILogger logger, string master, string error);

        [LoggerMessage(EventId = 2101, EventName = "SentinelMajority", Level = LogLevel.Information,
            Message = "Sentinels of {Master}: the majority names {Address} ({Answered} of {Total} answered)")]
        public static partial void Majority(ILogger logger, string master, string address, int answered, int total);
    }
}
