using System.Net;
using System.Net.Sockets;

namespace Manypaths.Demo;

/// <summary>
/// A loopback TCP port that is free right now, chosen below Linux's ephemeral range (32768-60999) so that the
/// outgoing connections the demo and tests make in the meantime cannot take it before it is bound.
/// </summary>
internal static class FreePort
{
    private const int First = 20000;
    private const int Last = 32000;
    private static int _next = First + Random.Shared.Next(Last - First);

    public static int Next()
    {
        for (var tries = 0; tries < Last - First; tries++)
        {
            var port = First + (Interlocked.Increment(ref _next) % (Last - First));
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken: try the next one
            }
        }

        throw new InvalidOperationException($"No free loopback port between {First} and {Last}.");
    }
}
