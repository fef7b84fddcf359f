namespace Manypaths.Proxy;

/// <summary>
/// Disposes a cloned attempt, but never a streaming body that a later attempt (or YARP) still needs, and never
/// YARP's own message.
/// </summary>
internal readonly struct OwnedAttempt(HttpRequestMessage? clone) : IDisposable
{
    public void Dispose()
    {
        if (clone is null)
        {
            return; // YARP's own message: YARP owns it
        }

        if (clone.Content is TrackingContent)
        {
            clone.Content = null;
        }

        clone.Dispose();
    }
}
