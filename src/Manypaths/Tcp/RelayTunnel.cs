using System.Net.Sockets;
using System.Text;

namespace Manypaths.Tcp;

/// <summary>
/// The origin's side of a relayed TCP connection: over a fresh connection to the peer's mesh address, a signed
/// HTTP/1.1 upgrade request names the service and upstream (never an address: the peer connects only to its own
/// configured upstream); a 101 answer turns the connection into the tunnel, a 502 with X-Manypaths-Unreached means
/// the peer could not reach the upstream either.
/// </summary>
internal static class RelayTunnel
{
    public const string Protocol = "manypaths-tcp";
    private const int MaxHead = 8 * 1024;

    /// <summary>What came back: the tunnel (bytes after the head included), or why not.</summary>
    public readonly record struct Result(int Status, bool Unreached, ReadOnlyMemory<byte> Pending);

    public static async Task<Result> HandshakeAsync(Stream peer, string service, string upstream, Mesh.RelayContext relay, int hopsLeft, CancellationToken ct)
    {
        var target = $"{Mesh.RelayHeaders.PathPrefix}{Uri.EscapeDataString(service)}/{Uri.EscapeDataString(upstream)}";
        var head = new StringBuilder()
            .Append("GET ").Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: manypaths-peer\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Upgrade: ").Append(Protocol).Append("\r\n");
        foreach (var (name, value) in Mesh.RelayHeaders.Signed("GET", target, null, relay.Signer, relay.Self, hopsLeft, "", relay.Time))
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        await peer.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct);
        var buffer = new byte[MaxHead];
        var filled = 0;
        while (true)
        {
            var n = await peer.ReadAsync(buffer.AsMemory(filled), ct);
            if (n == 0)
            {
                throw new IOException("the peer closed the relay connection before answering");
            }

            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var text = Encoding.ASCII.GetString(buffer, 0, end);
                var status = text.Length >= 12 && int.TryParse(text.AsSpan(9, 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0;
                var unreached = text.Contains("\r\n" + Mesh.RelayHeaders.Unreached + ":", StringComparison.OrdinalIgnoreCase);
                return new Result(status, unreached, buffer.AsMemory(end + 4, filled - end - 4).ToArray());
            }

            if (filled == buffer.Length)
            {
                throw new IOException("the peer's answer head is too long");
            }
        }
    }
}
