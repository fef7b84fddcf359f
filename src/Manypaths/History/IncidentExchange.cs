using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Manypaths.History;

/// <summary>
/// Every node shows the whole cluster's incidents: every 5 s this node fetches each reachable peer's own incidents
/// over the mesh (a signed GET /_mesh/incidents, verified like a relay request) and keeps the last answer of each,
/// so a peer that went quiet is still shown with what it last said. <see cref="Merged"/> joins them with this node's.
/// </summary>
internal sealed partial class IncidentExchange : IAsyncDisposable
{
    /// <summary>Often enough that an event only a peer sees is alerted within the 10 s the defaults promise.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, IncidentShare> _peers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _fetchedAt = new(StringComparer.Ordinal);
    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), UseProxy = false }) { Timeout = TimeSpan.FromSeconds(3) };
    private readonly Node.NodeHost _host;
    private readonly IncidentBook _book;
    private readonly Mesh.PeerSigner _signer;
    private readonly IReadOnlyDictionary<string, Uri> _peerMesh;
    private readonly ILogger _logger;
    private int _polling;

    public IncidentExchange(Node.NodeHost host, IncidentBook book, Mesh.PeerSigner signer, IReadOnlyDictionary<string, Uri> peerMesh, ILogger logger)
    {
        _host = host;
        _book = book;
        _signer = signer;
        _peerMesh = peerMesh;
        _logger = logger;
    }

    /// <summary>This node's own incidents and notes as peers fetch them.</summary>
    public static string Json(IncidentShare share) => JsonSerializer.Serialize(share, HistoryJsonContext.Default.IncidentShare);

    /// <summary>Each peer's last answer (a peer never heard is absent).</summary>
    public IReadOnlyDictionary<string, IncidentShare> Peers => _peers;

    /// <summary>The cluster's incidents: this node's and every peer's last answer, merged (for the page: a quiet peer's last word counts).</summary>
    public List<Incident> Merged() => IncidentMerge.Merge(_peers.Values.Append(_book.Share()));

    /// <summary>The same from this node and the peers answered within the last three polls only: what alerts follow,
    /// so a peer that died with an incident open cannot hold it open for ever.</summary>
    public List<Incident> MergedFresh()
    {
        var now = _host.Time.GetTimestamp();
        return IncidentMerge.Merge(_peers.Where(p => _fetchedAt.TryGetValue(p.Key, out var at) && _host.Time.GetElapsedTime(at, now) < 3 * Every)
            .Select(p => p.Value).Append(_book.Share()));
    }

    /// <summary>Fetches every reachable peer's incidents once (a poll still running is not started again).</summary>
    public async Task PollAsync()
    {
        if (Interlocked.Exchange(ref _polling, 1) == 1 || _host.Mesh is not { } mesh)
        {
            return;
        }

        try
        {
            await Task.WhenAll(mesh.Peers.Where(p => mesh.Link(p).State == Mesh.LinkState.Up && _peerMesh.ContainsKey(p)).Select(FetchAsync));
        }
        finally
        {
            Volatile.Write(ref _polling, 0);
        }
    }

    private async Task FetchAsync(string peer)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_peerMesh[peer], Mesh.RelayHeaders.IncidentsPath));
            foreach (var (name, value) in Mesh.RelayHeaders.Signed("GET", Mesh.RelayHeaders.IncidentsPath, null, _signer, _host.NodeName, 0, "", _host.Time))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await _http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            if (await JsonSerializer.DeserializeAsync(await response.Content.ReadAsStreamAsync(), HistoryJsonContext.Default.IncidentShare) is { } share)
            {
                // A peer's answer is data, not trusted shape: nulls become empty, so a bad answer cannot break the merge.
                _peers[peer] = share with
                {
                    Incidents = (share.Incidents ?? []).Where(i => i is { Id: not null, Kind: not null, Service: not null, Title: not null })
                        .Select(i => i with { Nodes = i.Nodes ?? [peer], Updates = [] }).ToList(),
                    Notes = (share.Notes ?? []).Where(n => n is { IncidentId: not null, Text: not null }).ToList(),
                };
                _fetchedAt[peer] = _host.Time.GetTimestamp();
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            Log.FetchFailed(_logger, peer, e.GetType().Name); // kept: its last answer; tried again in 5 s
        }
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7005, EventName = "IncidentFetchFailed", Level = LogLevel.Debug, Message = "Incidents of {Peer} not fetched ({Error}); its last answer is kept")]
        public static partial void FetchFailed(ILogger logger, string peer, string error);
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(IncidentShare))]
internal sealed partial class HistoryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
