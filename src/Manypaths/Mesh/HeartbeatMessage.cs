using System.Buffers.Binary;
using System.Text;
using Manypaths.Health;

namespace Manypaths.Mesh;

internal enum HeartbeatKind : byte
{
    Ping = 1,
    Pong = 2,
}

/// <summary>
/// A signed heartbeat datagram. Layout: "MP" 1 kind, from, seq, ticks, boot, version, views, switches, links, HMAC-SHA256.
/// Decoding never throws on bad input: it returns null and the caller counts the datagram as malformed.
/// </summary>
internal sealed record HeartbeatMessage(HeartbeatKind Kind, string From, ulong Seq, long Ticks, long Boot, long Version, IReadOnlyList<RemoteView> Views)
{
    /// <summary>The sender's operator switches (maintenance, drains), merged last-writer-wins by the receiver.</summary>
    public IReadOnlyList<Maintenance.SwitchEntry> Switches { get; init; } = [];

    /// <summary>The sender's own links to its peers (state, RTT, loss): its row of the peer link matrix.</summary>
    public IReadOnlyList<LinkReport> Links { get; init; } = [];

    private const int MacLength = 32;

    public byte[] Encode(PeerSigner signer)
    {
        using var ms = new MemoryStream(64 + (Views.Count * 32));
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)'M');
            w.Write((byte)'P');
            w.Write((byte)1);
            w.Write((byte)Kind);
            w.Write(From);
            w.Write(Seq);
            w.Write(Ticks);
            w.Write(Boot);
            w.Write(Version);
            w.Write((ushort)Views.Count);
            foreach (var v in Views)
            {
                w.Write(v.Service);
                w.Write(v.Upstream);
                w.Write((byte)v.State);
                w.Write(v.LatencyMs);
                w.Write(v.SuccessRate);
            }

            w.Write((ushort)Switches.Count);
            foreach (var e in Switches)
            {
                w.Write((byte)e.Kind);
                w.Write(e.Service);
                w.Write(e.Upstream);
                w.Write(e.On);
                w.Write(e.Message ?? "");
                w.Write(e.Until?.ToUnixTimeMilliseconds() ?? 0);
                w.Write(e.Stamp);
                w.Write(e.Origin);
            }

            w.Write((ushort)Links.Count);
            foreach (var l in Links)
            {
                w.Write(l.Peer);
                w.Write((byte)l.State);
                w.Write(l.RttMs);
                w.Write(l.Loss);
            }
        }

        var body = ms.ToArray();
        var packet = new byte[body.Length + MacLength];
        body.CopyTo(packet, 0);
        signer.Sign(body).CopyTo(packet, body.Length);
        return packet;
    }

    /// <summary>Null when the datagram is malformed; <paramref name="authentic"/> false when its MAC is wrong.</summary>
    public static HeartbeatMessage? Decode(ReadOnlySpan<byte> packet, PeerSigner signer, out bool authentic)
    {
        authentic = false;
        if (packet.Length < 4 + MacLength || packet[0] != 'M' || packet[1] != 'P' || packet[2] != 1)
        {
            return null;
        }

        var body = packet[..^MacLength];
        if (!signer.Verify(body, packet[^MacLength..]))
        {
            return null;
        }

        authentic = true;
        try
        {
            using var r = new BinaryReader(new MemoryStream(body.ToArray()), Encoding.UTF8);
            r.ReadBytes(3);
            var kind = (HeartbeatKind)r.ReadByte();
            if (kind is not (HeartbeatKind.Ping or HeartbeatKind.Pong))
            {
                return null;
            }

            var from = r.ReadString();
            var seq = r.ReadUInt64();
            var ticks = r.ReadInt64();
            var boot = r.ReadInt64();
            var version = r.ReadInt64();
            var count = r.ReadUInt16();
            var views = new List<RemoteView>(count);
            for (var i = 0; i < count; i++)
            {
                var service = r.ReadString();
                var upstream = r.ReadString();
                var state = (HealthState)r.ReadByte();
                if (!Enum.IsDefined(state))
                {
                    return null;
                }

                var latency = r.ReadSingle();
                var success = r.ReadSingle();
                if (!float.IsFinite(latency) || latency < 0 || !(success is >= 0 and <= 1))
                {
                    return null;
                }

                views.Add(new RemoteView(service, upstream, state, latency, success));
            }

            var switchCount = r.ReadUInt16();
            var switches = new List<Maintenance.SwitchEntry>(switchCount);
            for (var i = 0; i < switchCount; i++)
            {
                var k = (Maintenance.SwitchKind)r.ReadByte();
                if (!Enum.IsDefined(k))
                {
                    return null;
                }

                var service = r.ReadString();
                var upstream = r.ReadString();
                var on = r.ReadBoolean();
                var message = r.ReadString();
                var until = r.ReadInt64();
                var stamp = r.ReadInt64();
                var origin = r.ReadString();
                switches.Add(new Maintenance.SwitchEntry(k, service, upstream, on, message.Length == 0 ? null : message,
                    until == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(until), stamp, origin));
            }

            // Sections added later are optional, so nodes one version apart still understand each other during a
            // rolling upgrade: a body may end here (no link row), and sections this version does not know are
            // ignored (the body is signed, so they come from a peer holding the secret).
            var links = new List<LinkReport>();
            if (r.BaseStream.Position < r.BaseStream.Length)
            {
                var linkCount = r.ReadUInt16();
                for (var i = 0; i < linkCount; i++)
                {
                    var peer = r.ReadString();
                    var state = (LinkState)r.ReadByte();
                    var rtt = r.ReadSingle();
                    var loss = r.ReadSingle();
                    if (!Enum.IsDefined(state) || !(float.IsNaN(rtt) || (float.IsFinite(rtt) && rtt >= 0)) || !(loss is >= 0 and <= 1))
                    {
                        return null;
                    }

                    links.Add(new LinkReport(peer, state, rtt, loss));
                }
            }

            return new HeartbeatMessage(kind, from, seq, ticks, boot, version, views) { Switches = switches, Links = links };
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException)
        {
            return null;
        }
    }
}
