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
        _server = new DnsServer(new UdpServerTransport(endpoint), new TcpServerTransport(endpoint));
        _server.QueryReceived += OnQueryAsync;
        _server.ExceptionThrown += OnException;
    }

    public IPEndPoint Endpoint { get; }

    public void Start() => _server.Start();

    private Task OnQueryAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is not DnsMessage query || _book() is not { } book)
        {
            return Task.CompletedTask; // not a DNS query message, or no zones: no answer
        }

        if (e.TransportProtocol == TransportProtocol.Udp && _limiter.Decide(e.RemoteEndpoint.Address) is var decision and not RateDecision.Send)
        {
            _metrics.DnsRateLimited.Add(1, new KeyValuePair<string, object?>("action", decision == RateDecision.Slip ? "slipped" : "dropped"));
            if (decision == RateDecision.Slip)
            {
                var slip = query.CreateResponseInstance();
                slip.IsTruncated = true; // empty and truncated: a real client retries over TCP
                e.Response = slip;
            }

            return Task.CompletedTask;
        }

        var why = _logger.IsEnabled(LogLevel.Debug) ? new System.Text.StringBuilder() : null;
        var response = book.Answer(query, e.RemoteEndpoint.Address, why);
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
