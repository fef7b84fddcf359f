namespace Manypaths.Service;

/// <summary>
/// Lets one attempt alone send a request that must not be sent twice. Over HTTP/1.1 nothing reaches the upstream
/// (not even the headers, however large: they stay in the connection's buffer) before the handler asks for the
/// body, so the body is where the gate stands (Proxy/GatedContent): the first attempt to reach it claims the
/// request, every other one is closed without a byte. Until then an attempt may be abandoned (it can never claim
/// afterwards) and the request started again on another path.
/// </summary>
internal sealed class SendGate
{
    private readonly Lock _lock = new();
    private readonly HashSet<int> _abandoned = [];
    private int _owner;

    /// <summary>The attempt (its number) that claimed the request, or 0 while none has.</summary>
    public int Owner
    {
        get
        {
            lock (_lock)
            {
                return _owner;
            }
        }
    }

    public bool Claimed => Owner != 0;

    /// <summary>True if attempt <paramref name="attempt"/> may send: it claims the request now, or did before.</summary>
    public bool TryClaim(int attempt)
    {
        lock (_lock)
        {
            if (_owner == 0 && !_abandoned.Contains(attempt))
            {
                _owner = attempt;
            }

            return _owner == attempt;
        }
    }

    /// <summary>True if attempt <paramref name="attempt"/> never sent and now never will; false if it already claimed the request.</summary>
    public bool TryAbandon(int attempt)
    {
        lock (_lock)
        {
            if (_owner == attempt)
            {
                return false;
            }

            _abandoned.Add(attempt);
            return true;
        }
    }
}
