using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Mesh;

namespace Manypaths.Tests.Mesh;

public sealed class HeartbeatMessageTests
{
    private readonly PeerSigner _signer = new(["secret-one"]);

    private static HeartbeatMessage Sample() => new(HeartbeatKind.State, "blr", 42, 1000, 1_700_000_000_000)
    {
        Views = [new RemoteView("control", "use1", HealthState.Up, 12.5f, 0.99f)],
        Switches = [new SwitchEntry(SwitchKind.Maintenance, "control", "", true, "moving", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_060_000), 123, "maa")],
        Links = [new LinkReport("maa", LinkState.Up, 0.8f, 0.1f), new LinkReport("del", LinkState.Down, float.NaN, 1f)],
    };

    [Fact]
    public void RoundTrip_KeepsEveryField()
    {
        var decoded = HeartbeatMessage.Decode(Sample().Encode(_signer), _signer, out var authentic);
        Assert.True(authentic);
        Assert.NotNull(decoded);
        Assert.Equal((HeartbeatKind.State, "blr", 42UL, 1000L, 1_700_000_000_000L), (decoded.Kind, decoded.From, decoded.Seq, decoded.Boot, decoded.SentMs));
        Assert.Equal(Sample().Views, decoded.Views);
        Assert.Equal(Sample().Switches, decoded.Switches);
        Assert.Equal(Sample().Links, decoded.Links);
    }

    [Fact]
    public void Ping_IsSmall_SoOneLostPacketIsOneLostPing()
    {
        var ping = new HeartbeatMessage(HeartbeatKind.Ping, "blr", 7, 1000, 1_700_000_000_000).Encode(_signer);
        Assert.True(ping.Length < 100, $"{ping.Length} bytes");
        var decoded = HeartbeatMessage.Decode(ping, _signer, out _);
        Assert.Equal((HeartbeatKind.Ping, 7UL), (decoded!.Kind, decoded.Seq));
        Assert.Empty(decoded.Views);
    }

    [Fact]
    public void SectionsAddedByALaterVersion_AreIgnored()
    {
        // What a newer node may send during a rolling upgrade: a section this version does not know, at the end.
        var packet = Sample().Encode(_signer);
        var body = packet[..^HeartbeatMessage.MacLength].Concat(new byte[] { 9, 9, 9, 9 }).ToArray();
        var decoded = HeartbeatMessage.Decode(body.Concat(_signer.Sign(body)).ToArray(), _signer, out _);
        Assert.NotNull(decoded);
        Assert.Equal(Sample().Links, decoded.Links);
    }

    [Fact]
    public void OtherFormat_IsMalformed()
    {
        var packet = Sample().Encode(_signer);
        var body = packet[..^HeartbeatMessage.MacLength];
        body[2] = 1; // the format before pings and state were split, from a node holding the secret
        Assert.Null(HeartbeatMessage.Decode(body.Concat(_signer.Sign(body)).ToArray(), _signer, out var authentic));
        Assert.True(authentic); // counted as another version (other_format), not as an intruder
    }

    [Fact]
    public void NonFiniteOrOutOfRangeFigures_AreMalformed()
    {
        var badView = Sample() with { Views = [new RemoteView("control", "use1", HealthState.Up, 1, float.NaN)] };
        Assert.Null(HeartbeatMessage.Decode(badView.Encode(_signer), _signer, out var authentic));
        Assert.True(authentic); // signed by a peer, still refused (and counted as malformed)
        var badLink = Sample() with { Links = [new LinkReport("maa", LinkState.Up, float.PositiveInfinity, 0)] };
        Assert.Null(HeartbeatMessage.Decode(badLink.Encode(_signer), _signer, out _));
    }

    [Fact]
    public void WrongKey_IsNotAuthentic()
    {
        var packet = Sample().Encode(new PeerSigner(["other"]));
        Assert.Null(HeartbeatMessage.Decode(packet, _signer, out var authentic));
        Assert.False(authentic);
    }

    [Fact]
    public void RotatedSecret_OldKeyStillVerifies_NewKeySigns()
    {
        var rotated = new PeerSigner(["secret-two", "secret-one"]);
        Assert.NotNull(HeartbeatMessage.Decode(Sample().Encode(_signer), rotated, out _));
        Assert.NotNull(HeartbeatMessage.Decode(Sample().Encode(rotated), new PeerSigner(["secret-two"]), out _));
    }

    [Fact]
    public void Fuzz_RandomAndMutatedPackets_NeverThrow()
    {
        var random = new Random(1234);
        var good = Sample().Encode(_signer);
        for (var i = 0; i < 5000; i++)
        {
            byte[] packet;
            if (i % 2 == 0)
            {
                packet = new byte[random.Next(0, 200)];
                random.NextBytes(packet);
            }
            else
            {
                packet = (byte[])good.Clone();
                packet[random.Next(packet.Length)] ^= (byte)(1 + random.Next(255));
            }

            Assert.Null(HeartbeatMessage.Decode(packet, _signer, out _)); // every mutation breaks the MAC or the frame
        }
    }

    [Fact]
    public void Fuzz_SignedMutations_AreDecodedOrRefused_NeverThrow()
    {
        // A peer holding the secret but sending garbage (a bug): the parser itself must hold.
        var random = new Random(4321);
        var body = Sample().Encode(_signer)[..^HeartbeatMessage.MacLength];
        for (var i = 0; i < 5000; i++)
        {
            var mutated = (byte[])body.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                mutated[3 + random.Next(mutated.Length - 3)] = (byte)random.Next(256);
            }

            var cut = mutated[..random.Next(4, mutated.Length + 1)];
            _ = HeartbeatMessage.Decode(cut.Concat(_signer.Sign(cut)).ToArray(), _signer, out var authentic);
            Assert.True(authentic);
        }
    }

    [Fact]
    public void SignedButTruncated_IsMalformedNotAuthenticGarbage()
    {
        var body = new byte[] { (byte)'M', (byte)'P', HeartbeatMessage.Format, 1, 3, (byte)'b', (byte)'l' }; // string runs past the end
        var packet = body.Concat(_signer.Sign(body)).ToArray();
        Assert.Null(HeartbeatMessage.Decode(packet, _signer, out var authentic));
        Assert.True(authentic);
    }
}
