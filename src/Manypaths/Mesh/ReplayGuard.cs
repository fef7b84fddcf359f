namespace Manypaths.Mesh;

/// <summary>Remembers nonces for the replay window; a nonce seen twice in the window is a replay.</summary>
internal sealed class ReplayGuard(TimeSpan window, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private DateTimeOffset _nextSweep;

    public TimeSpan Window { get; } = window;

    /// <summary>Accepts a (time, nonce) pair once; refuses it if expired, from the future, or already seen.</summary>
    public RelayRefusal? Check(DateTimeOffset sentAt, string nonce)
    {
        var now = time.GetUtcNow();
        if (sentAt < now - Window || sentAt > now + Window)
        {
            return RelayRefusal.Expired;
        }

        lock (_lock)
        {
            if (now >= _nextSweep)
            {
                foreach (var old in _seen.Where(kv => kv.Value < now - Window).Select(kv => kv.Key).ToList())
                {
                    _seen.Remove(old);
                }

                _nextSweep = now + Window;
            }

            return _seen.TryAdd(nonce, sentAt) ? null : RelayRefusal.Replayed;
        }
    }
}

internal enum RelayRefusal
{
    Unauthenticated,
    Expired,
    Replayed,
    UnknownTarget,
    Loop,
}
