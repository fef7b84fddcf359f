using System.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;

namespace Manypaths.Dns;

/// <summary>
/// One DNS listen address, UDP and TCP. UDP is our own <see cref="UdpAnswerLoop"/> (the hot path: rate limited,
/// malformed packets counted); TCP is ARSoft.Tools.Net's server (framing, several queries per connection). It
/// outlives config generations: every query is answered from the live generation's <see cref="ZoneBook"/>.
/// </summary>
internal sealed partial class DnsFrontEnd : IDisposable
{
    private readonly DnsServer _tcp;
    private readonly UdpAnswerLoop _udp;
    private readonly Func<ZoneBook?> _book;
    private readonly Telemetry.ManypathsMetrics _metrics;
    private readonly ILogger _logger;
    private static readonly KeyValuePair<string, object?> Udp = new("transport", "udp");
    private static readonly KeyValuePair<string, object?> Tcp = new("transport", "tcp");

    public DnsFrontEnd(IPEndPoint endpoint, Func<ZoneBook?> book, Telemetry.ManypathsMetrics metrics, ILogger logger, ResponseRateLimiter limiter, TimeProvider time)
    {
        Endpoint = endpoint;
        _book = book;
        _metrics = metrics;
        _logger = logger;
        _udp = new UdpAnswerLoop(endpoint, (query, client) => (Answer(query, client, Udp, out var reusable), reusable), () => _book(), limiter, metrics, time);
        _tcp = new DnsServer(new TcpServerTransport(endpoint));
        _tcp.QueryReceived += OnTcpQueryAsync;
        _tcp.ExceptionThrown += OnException;
    }

    public IPEndPoint Endpoint { get; }

    /// <summary>Binds UDP, then TCP; throws <see cref="System.Net.Sockets.SocketException"/> when either address is taken.</summary>
    public void Start()
    {
        _udp.Start();
        _tcp.Start();
    }

    private DnsMessage Answer(DnsMessage query, IPAddress client, KeyValuePair<string, object?> transport) => Answer(query, client, transport, out _);

    private DnsMessage Answer(DnsMessage query, IPAddress client, KeyValuePair<string, object?> transport, out bool reusable)
    {
        reusable = false;
        if (_book() is not { } book)
        {
            var refused = query.CreateResponseInstance();
            refused.ReturnCode = ReturnCode.Refused; // no zones here (yet): not a server failure
            return refused;
        }

        var why = _logger.IsEnabled(LogLevel.Debug) ? new System.Text.StringBuilder() : null;
        var response = book.Answer(query, client, why, out reusable);
        reusable &= why is null; // a node logging every answer's reason logs the cached ones too: no cache then
        _metrics.DnsQueries.Add(1, new KeyValuePair<string, object?>("rcode", RcodeName(response.ReturnCode)), transport);
        if (why is not null)
        {
            Log.Answered(_logger, query.Questions.FirstOrDefault()?.ToString() ?? "?", response.ReturnCode, why.ToString());
        }

        return response;
    }

    internal static string RcodeName(ReturnCode code) => code switch
    {
        ReturnCode.NoError => "noerror",
        ReturnCode.NxDomain => "nxdomain",
        ReturnCode.Refused => "refused",
        _ => code.ToString().ToLowerInvariant(),
    };

    private Task OnTcpQueryAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is DnsMessage query)
        {
            e.Response = Answer(query, UdpAnswerLoop.Client(e.RemoteEndpoint.Address), Tcp);
        }

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

    public void Dispose()
    {
        _udp.Dispose();
        _tcp.Stop();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5001, EventName = "DnsAnswered", Level = LogLevel.Debug, Message = "DNS {Question}: {ReturnCode}, {Why}")]
        public static partial void Answered(ILogger logger, string question, ReturnCode returnCode, string why);

        [LoggerMessage(EventId = 5002, EventName = "DnsDropped", Level = LogLevel.Debug, Message = "DNS packet dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string reason);
    }
}
