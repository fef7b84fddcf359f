namespace Manypaths.Proxy;

/// <summary>Thrown by our connect callback: the request provably never left this node.</summary>
public sealed class ConnectFailedException(string endpoint, string reason, Exception? inner)
    : Exception($"Could not connect to {endpoint}: {reason}", inner)
{
    public string Endpoint { get; } = endpoint;
}
