namespace Manypaths.Mesh;

/// <summary>
/// Splits a node's state (link row, switches, views) into State datagrams of at most <see cref="Budget"/> bytes,
/// so no heartbeat is ever IP-fragmented: a fragmented datagram is lost when any fragment is, which made a
/// link with 10% frame loss measure 53% for a node with 300 upstreams (tests/netns/peer-link-loss.sh), and paths
/// that drop fragments would cut the mesh outright. The link row always travels whole in the first part (over the budget only past about
/// 50 nodes); an entry bigger than the budget on its own gets a part of its own (maintenance messages are capped
/// so that none is).
/// </summary>
internal static class StateChunks
{
    /// <summary>Fits the smallest IPv6 MTU (1280) less IP and UDP headers, and so every IPv4 path too.</summary>
    public const int Budget = 1200;

    private const int SectionCounts = 6;

    public static List<byte[]> Encode(string from, ulong seq, long boot, long sentMs, IReadOnlyList<LinkReport> links,
        IReadOnlyList<Maintenance.SwitchEntry> switches, IReadOnlyList<RemoteView> views, PeerSigner signer)
    {
        var fixedPart = HeartbeatMessage.HeaderLength(from) + SectionCounts + HeartbeatMessage.MacLength;
        var parts = new List<byte[]>();
        var partViews = new List<RemoteView>();
        var partSwitches = new List<Maintenance.SwitchEntry>();
        IReadOnlyList<LinkReport> partLinks = links;
        var size = fixedPart + links.Sum(HeartbeatMessage.Size);

        void Flush()
        {
            parts.Add(new HeartbeatMessage(HeartbeatKind.State, from, seq, boot, sentMs)
            {
                Views = partViews.ToArray(),
                Switches = partSwitches.ToArray(),
                Links = partLinks,
            }.Encode(signer));
            partViews.Clear();
            partSwitches.Clear();
            partLinks = [];
            size = fixedPart;
        }

        bool Empty() => partViews.Count == 0 && partSwitches.Count == 0 && partLinks.Count == 0;

        foreach (var e in switches)
        {
            var n = HeartbeatMessage.Size(e);
            if (size + n > Budget && !Empty())
            {
                Flush();
            }

            partSwitches.Add(e);
            size += n;
        }

        foreach (var v in views)
        {
            var n = HeartbeatMessage.Size(v);
            if (size + n > Budget && !Empty())
            {
                Flush();
            }

            partViews.Add(v);
            size += n;
        }

        if (!Empty() || parts.Count == 0)
        {
            Flush();
        }

        return parts;
    }
}
