using Manypaths.Routing;

namespace Manypaths.Proxy;

/// <summary>What one client request carries through its attempts: the replayable body and the paths tried.</summary>
internal sealed class ForwardingState(ServiceRuntime service, string method, byte[]? bufferedBody)
{
    public static readonly HttpRequestOptionsKey<ForwardingState> Key = new("manypaths.forwarding");

    public ServiceRuntime Service { get; } = service;
    public string Method { get; } = method;
    public bool Idempotent { get; } = RetryPolicy.IsIdempotent(method);

    /// <summary>The whole request body when it was small enough to buffer; null when there is none or it streams.</summary>
    public byte[]? BufferedBody { get; } = bufferedBody;

    public TriedSet Tried { get; } = new();

    public int Attempts { get; set; }

    /// <summary>True while every attempt so far failed without the request ever leaving this node.</summary>
    public bool NeverReachedUpstream { get; set; } = true;

    public bool NothingToTry { get; set; }

    public UpstreamRuntime? ServedBy { get; set; }

    /// <summary>
    /// The upstream whose relayed hedge won while other attempts were still running (-1: none), set before those
    /// are cancelled: a direct attempt to the same upstream was outpaced by another path, not aborted.
    /// </summary>
    public int RelayedHedgeWinner { get => Volatile.Read(ref _relayedHedgeWinner); set => Volatile.Write(ref _relayedHedgeWinner, value); }

    private int _relayedHedgeWinner = -1;

    public PickReason LastPick { get; set; }

    /// <summary>'timeouts.request': runs until the response starts, then is disarmed (idle takes over).</summary>
    public Deadline RequestDeadline { get; set; }

    /// <summary>(upstream, peer) pairs already tried: the same upstream may be tried again through another peer.</summary>
    public HashSet<(int Upstream, string Peer)> RelayTried { get; } = [];

    /// <summary>Set on a node serving a relay request: only this upstream, only directly, no retries.</summary>
    public int? Pinned { get; init; }

    /// <summary>The relay chain and hop budget this request arrived with (empty and the limit at the origin).</summary>
    public string Chain { get; init; } = "";
    public int HopsLeft { get; init; } = 1;
}
