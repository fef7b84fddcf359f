using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;

namespace Manypaths.Dns;

/// <summary>
/// One DNS listen address, UDP and TCP, on ARSoft.Tools.Net's server (wire format, truncation for UDP, TCP framing).
/// It outlives config generations: every query is answered from the live generation's <see cref="ZoneBook"/>. A
/// packet that does not parse is dropped and counted (ARSoft reports it as an exception), never a crash.
/// </summary>
internal sealed partial class DnsFrontEnd : IDisposable
{
    private readonly DnsServer _server;
    private readonly Func<ZoneBook?> _book;
    private readonly Telemetry.ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ResponseRateLimiter _limiter;

    public DnsFrontEnd(IPEndPoint endpoint, Func<ZoneBook?> book, Telemetry.ManypathsMetrics metrics, ILogger logger, ResponseRateLimiter limiter)
    {
        _limiter = limiter;
        Endpoint = endpoint;
        _book = book;
        _metrics = metrics;
        _logger = logger;
        _server = new DnsServer(
            new QueriesOnlyTransport(new UdpServerTransport(endpoint), () => _metrics.DnsDropped.Add(1, new KeyValuePair<string, object?>("reason", "not_a_query"))),
            new TcpServerTransport(endpoint));
        _server.ClientConnected += OnClientConnected;
        _server.QueryReceived += OnQueryAsync;
        _server.ExceptionThrown += OnException;
    }

    public IPEndPoint Endpoint { get; }

    public void Start() => _server.Start();

    /// <summary>
    /// Rate limiting is decided here, before the packet is parsed: a dropped one is refused outright (left unanswered
    /// in the query handler, ARSoft would send SERVFAIL instead of nothing). A slipped one is answered empty and
    /// truncated by the query handler.
    /// </summary>
    private Task OnClientConnected(object sender, ClientConnectedEventArgs e)
    {
        if (e.TransportProtocol != TransportProtocol.Udp)
        {
            return Task.CompletedTask;
        }

        var decision = _limiter.Decide(Client(e.RemoteEndpoint.Address));
        if (decision == RateDecision.Send)
        {
            return Task.CompletedTask;
        }

        _metrics.DnsRateLimited.Add(1, new KeyValuePair<string, object?>("action", decision == RateDecision.Slip ? "slipped" : "dropped"));
        if (decision == RateDecision.Drop)
        {
            e.RefuseConnect = true;
        }
        else
        {
            _slip.AddOrUpdate(e.RemoteEndpoint, 1, (_, n) => n + 1);
        }

        return Task.CompletedTask;
    }

    /// <summary>Slips owed per client endpoint: a count, not a flag, so two packets of one client in flight at once both
    /// get the treatment decided for them (which of the two gets which is not tracked).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IPEndPoint, int> _slip = new();

    private bool TakeSlip(IPEndPoint client)
    {
        while (_slip.TryGetValue(client, out var owed))
        {
            if (owed <= 1 ? _slip.TryRemove(new KeyValuePair<IPEndPoint, int>(client, owed)) : _slip.TryUpdate(client, owed - 1, owed))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d: rate limits and client networks see it as IPv4.</summary>
    private static IPAddress Client(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private Task OnQueryAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is not DnsMessage query)
        {
            return Task.CompletedTask;
        }

        if (_book() is not { } book)
        {
            var refused = query.CreateResponseInstance();
            refused.ReturnCode = ReturnCode.Refused; // no zones here (yet): not a server failure
            e.Response = refused;
            return Task.CompletedTask;
        }

        if (e.TransportProtocol == TransportProtocol.Udp && !_slip.IsEmpty && TakeSlip(e.RemoteEndpoint))
        {
            var slip = query.CreateResponseInstance();
            slip.IsTruncated = true; // empty and truncated: a real client retries over TCP, which is not limited
            e.Response = slip;
            return Task.CompletedTask;
        }

        var why = _logger.IsEnabled(LogLevel.Debug) ? new System.Text.StringBuilder() : null;
        var response = book.Answer(query, Client(e.RemoteEndpoint.Address), why);
        _metrics.DnsQueries.Add(1, new KeyValuePair<string, object?>("rcode", response.ReturnCode.ToString().ToLowerInvariant()),
            new KeyValuePair<string, object?>("transport", e.TransportProtocol.ToString().ToLowerInvariant()));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.Answered(_logger, query.Questions.FirstOrDefault()?.ToString() ?? "?", response.ReturnCode, why?.ToString() ?? "");
        }

        e.Response = response;
        return Task.CompletedTask;
    }

    private Task OnException(object sender, ExceptionEventArgs e)
    {
        _metrics.DnsDropped.Add(1, new KeyValuePair<string, object?>("reason", e.Exception.GetType().Name));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.Dropped(_logger, e.Exception.Message);
        }

        return Task.CompletedTask;
    }

    public void Dispose() => _server.Stop();

    private static partial class Log
    {
        [LoggerMessage(EventId = 5001, EventName = "DnsAnswered", Level = LogLevel.Debug, Message = "DNS {Question}: {ReturnCode}, {Why}")]
        public static partial void Answered(ILogger logger, string question, ReturnCode returnCode, string why);

        [LoggerMessage(EventId = 5002, EventName = "DnsDropped", Level = LogLevel.Debug, Message = "DNS packet dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string reason);
    }
}
