using Manypaths.Routing;
using Manypaths.Service;

namespace Manypaths.Proxy;

/// <summary>What one client request carries through its attempts: its body, what it may do, what it tried.</summary>
internal sealed class ForwardingState(ServiceRuntime service, string method, byte[]? bufferedBody)
{
    public ServiceRuntime Service { get; } = service;
    public string Method { get; } = method;
    public bool Idempotent { get; } = RetryPolicy.IsIdempotent(method);

    /// <summary>The whole request body when it was small enough to buffer; null when there is none or it streams.</summary>
    public byte[]? BufferedBody { get; } = bufferedBody;

    /// <summary>Paths tried, and what the request may try (pinned upstream, hops left).</summary>
    public required AttemptHistory History { get; init; }

    /// <summary>May this request be hedged (decided from the client's request: method, body, upgrade, stream)?</summary>
    public bool Hedgeable { get; init; }

    /// <summary>
    /// One attempt alone may send the request: set when it must not be sent twice (not idempotent) or its body
    /// streams (it can be read once). Null when any attempt may send it (idempotent, buffered or no body).
    /// </summary>
    public SendGate? Gate { get; init; }

    /// <summary>True while every attempt so far failed without the request ever leaving this node.</summary>
    public bool NeverReachedUpstream { get; set; } = true;

    public bool NothingToTry { get; set; }

    public UpstreamCore? ServedBy { get; set; }

    /// <summary>The path that answered (direct or through which peer, and its tier), for the history's path mix.</summary>
    public Routing.PathChoice? ServedPath { get; set; }

    /// <summary>
    /// 'timeouts.request' as a timestamp: no attempt waits for its first byte past it, and none starts after it. It
    /// ends where the response starts ('timeouts.idle', YARP's activity timeout, governs from there).
    /// </summary>
    public long DeadlineAt { get; init; } = long.MaxValue;

    /// <summary>Every attempt ended and the request deadline had passed: the client gets a 504.</summary>
    public bool TimedOut { get; set; }

    /// <summary>The upstream whose prefix YARP built the outgoing URI from (-1: a placeholder prefix).</summary>
    public int YarpUpstream { get; init; } = -1;

    /// <summary>The relay chain this request arrived with (empty at the origin).</summary>
    public string Chain { get; init; } = "";
}
