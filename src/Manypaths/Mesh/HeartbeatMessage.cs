using System.Text;
using Manypaths.Health;

namespace Manypaths.Mesh;

internal enum HeartbeatKind : byte
{
    /// <summary>A link probe: small, so that one lost packet is one lost ping (RTT and loss).</summary>
    Ping = 1,

    /// <summary>The answer to a ping, echoing its sequence number.</summary>
    Pong = 2,

    /// <summary>Part of the sender's state: direct views, operator switches and (first part only) its link row.</summary>
    State = 3,
}

/// <summary>What a ping says of its sender, besides being alive.</summary>
[Flags]
internal enum PingFlags : byte
{
    None = 0,

    /// <summary>The sender is shutting down: finishing what it has, taking nothing new, so relay elsewhere.</summary>
    Draining = 1,
}

/// <summary>
/// A signed heartbeat datagram, format 2. Layout: "MP" 2 kind, from, seq, boot, sent (Unix ms), where a Pong's
/// seq and boot are those of the ping it answers and every other kind's boot is the sender's; a Ping adds a
/// flags byte (<see cref="PingFlags"/>); a State adds
/// views, switches and links, each a ushort count and its entries; then HMAC-SHA256 over all of it. Sections
/// added later go at the end: a decoder reads the ones it knows and ignores what follows (the body is signed,
/// so it comes from a peer holding the secret). Decoding never throws on bad input: it returns null and the
/// caller counts the datagram as malformed.
/// </summary>
internal sealed record HeartbeatMessage(HeartbeatKind Kind, string From, ulong Seq, long Boot, long SentMs)
{
    public const byte Format = 2;
    public const int MacLength = 32;

    /// <summary>Bytes of a message before its sections: magic, format, kind, from, seq, boot, sent.</summary>
    public static int HeaderLength(string from) => 4 + PrefixedLength(from) + 24;

    /// <summary>A Ping's flags (one byte after the header; decoders from before it ignore it).</summary>
    public PingFlags Flags { get; init; }

    /// <summary>The sender's direct views of its upstreams (State only).</summary>
    public IReadOnlyList<RemoteView> Views { get; init; } = [];

    /// <summary>The sender's operator switches (maintenance, drains), merged last-writer-wins by the receiver.</summary>
    public IReadOnlyList<Maintenance.SwitchEntry> Switches { get; init; } = [];

    /// <summary>The sender's own links to its peers (state, RTT, loss): its row of the peer link matrix.</summary>
    public IReadOnlyList<LinkReport> Links { get; init; } = [];

    public byte[] Encode(PeerSigner signer)
    {
        using var ms = new MemoryStream(HeaderLength(From) + (Views.Count * 32) + MacLength);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)'M');
            w.Write((byte)'P');
            w.Write(Format);
            w.Write((byte)Kind);
            w.Write(From);
            w.Write(Seq);
            w.Write(Boot);
            w.Write(SentMs);
            if (Kind == HeartbeatKind.State)
            {
                WriteSections(w);
            }
            else if (Kind == HeartbeatKind.Ping)
            {
                w.Write((byte)Flags);
            }
        }

        var body = ms.ToArray();
        var packet = new byte[body.Length + MacLength];
        body.CopyTo(packet, 0);
        signer.Sign(body).CopyTo(packet, body.Length);
        return packet;
    }

    private void WriteSections(BinaryWriter w)
    {
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

    /// <summary>Encoded sizes of one entry of each section, for <see cref="StateChunks"/>.</summary>
    public static int Size(RemoteView v) => PrefixedLength(v.Service) + PrefixedLength(v.Upstream) + 9;

    public static int Size(Maintenance.SwitchEntry e) =>
        1 + PrefixedLength(e.Service) + PrefixedLength(e.Upstream) + 1 + PrefixedLength(e.Message ?? "") + 16 + PrefixedLength(e.Origin);

    public static int Size(LinkReport l) => PrefixedLength(l.Peer) + 9;

    /// <summary>A string as BinaryWriter writes it: a 7-bit-encoded length, then UTF-8.</summary>
    public static int PrefixedLength(string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        return n + (n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : 4);
    }

    /// <summary>Null when the datagram is malformed; <paramref name="authentic"/> false when its MAC is wrong.</summary>
    public static HeartbeatMessage? Decode(ReadOnlySpan<byte> packet, PeerSigner signer, out bool authentic)
    {
        authentic = false;
        if (packet.Length < 4 + MacLength || packet[0] != 'M' || packet[1] != 'P')
        {
            return null;
        }

        var body = packet[..^MacLength];
        if (!signer.Verify(body, packet[^MacLength..]))
        {
            return null;
        }

        authentic = true; // another format is then a node of another version, not an intruder
        if (packet[2] != Format)
        {
            return null;
        }

        try
        {
            using var r = new BinaryReader(new MemoryStream(body.ToArray()), Encoding.UTF8);
            r.ReadBytes(3);
            var kind = (HeartbeatKind)r.ReadByte();
            if (!Enum.IsDefined(kind))
            {
                return null;
            }

            var message = new HeartbeatMessage(kind, r.ReadString(), r.ReadUInt64(), r.ReadInt64(), r.ReadInt64());
            if (kind == HeartbeatKind.Ping && r.BaseStream.Position < r.BaseStream.Length)
            {
                message = message with { Flags = (PingFlags)r.ReadByte() };
            }

            return kind == HeartbeatKind.State ? ReadSections(r, message) : message;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException)
        {
            return null;
        }
    }

    private static HeartbeatMessage? ReadSections(BinaryReader r, HeartbeatMessage header)
    {
        var count = r.ReadUInt16();
        var views = new List<RemoteView>(count);
        for (var i = 0; i < count; i++)
        {
            var service = r.ReadString();
            var upstream = r.ReadString();
            var state = (HealthState)r.ReadByte();
            var latency = r.ReadSingle();
            var success = r.ReadSingle();
            if (!Enum.IsDefined(state) || !float.IsFinite(latency) || latency < 0 || !(success is >= 0 and <= 1))
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
            var service = r.ReadString();
            var upstream = r.ReadString();
            var on = r.ReadBoolean();
            var text = r.ReadString();
            var until = r.ReadInt64();
            var stamp = r.ReadInt64();
            var origin = r.ReadString();
            if (!Enum.IsDefined(k) || until is < 0 or > 253402300799999) // up to the year 9999, as DateTimeOffset allows
            {
                return null;
            }

            switches.Add(new Maintenance.SwitchEntry(k, service, upstream, on, text.Length == 0 ? null : text,
                until == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(until), stamp, origin));
        }

        var linkCount = r.ReadUInt16();
        var links = new List<LinkReport>(linkCount);
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

        return header with { Views = views, Switches = switches, Links = links };
    }
}
