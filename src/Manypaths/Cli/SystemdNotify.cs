using System.Net.Sockets;
using System.Text;

namespace Manypaths.Cli;

/// <summary>sd_notify: one datagram to $NOTIFY_SOCKET (Type=notify units); a no-op elsewhere.</summary>
internal static class SystemdNotify
{
    public static void Send(string state)
    {
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var address = path.StartsWith('@') ? "\0" + path[1..] : path;
            socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(address));
        }
        catch (SocketException)
        {
        }
    }
}
