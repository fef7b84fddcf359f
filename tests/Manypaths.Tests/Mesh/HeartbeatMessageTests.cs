using Manypaths.Health;
using Manypaths.Maintenance;
using Manypaths.Mesh;

namespace Manypaths.Tests.Mesh;

public sealed class HeartbeatMessageTests
{
    private readonly PeerSigner _signer = new(["secret-one"]);

    private static HeartbeatMessage Sample() => new(HeartbeatKind.Ping, "blr", 42, 0, 1000, 7,
        [new RemoteView("control", "use1", HealthState.Up, 12.5f, 0.99f)])
    {
        Switches = [new SwitchEntry(SwitchKind.Maintenance, "control", "", true, "moving", null, 123, "maa")],
        Links = [new LinkReport("maa", LinkState.Up, 0.8f, 0.1f), new LinkReport("del", LinkState.Down, float.NaN, 1f)],
    };

    [Fact]
    public void RoundTrip_KeepsEveryField()
    {
        var decoded = HeartbeatMessage.Decode(Sample().Encode(_signer), _signer, out var authentic);
        Assert.True(authentic);
        Assert.NotNull(decoded);
        Assert.Equal(("blr", 42UL, 7L), (decoded.From, decoded.Seq, decoded.Version));
        Assert.Equal(Sample().Views, decoded.Views);
        Assert.Equal(Sample().Switches, decoded.Switches);
        Assert.Equal(Sample().Links, decoded.Links);
    }

    [Fact]
    public void BodyFromTheVersionBeforeTheLinkRow_StillDecodes()
    {
        // What a node one version older sends during a rolling upgrade: no link section at all.
        var withEmptyLinks = (Sample() with { Links = [] }).Encode(_signer);
        var body = withEmptyLinks[..^(32 + 2)]; // drop the MAC and the empty link count
        var old = body.Concat(_signer.Sign(body)).ToArray();
        var decoded = HeartbeatMessage.Decode(old, _signer, out _);
        Assert.NotNull(decoded);
        Assert.Empty(decoded.Links);
        Assert.Equal(Sample().Switches, decoded.Switches);
    }

    [Fact]
    public void NonFiniteOrOutOfRangeFigures_AreMalformed()
    {
        var badView = new HeartbeatMessage(HeartbeatKind.Ping, "blr", 1, 0, 1, 1, [new RemoteView("control", "use1", HealthState.Up, 1, float.NaN)]);
        Assert.Null(HeartbeatMessage.Decode(badView.Encode(_signer), _signer, out var authentic));
        Assert.True(authentic); // signed by a peer, still refused (and counted as malformed)
        var badLink = new HeartbeatMessage(HeartbeatKind.Ping, "blr", 1, 0, 1, 1, []) { Links = [new LinkReport("maa", LinkState.Up, float.PositiveInfinity, 0)] };
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
    public void SignedButTruncatedOrPadded_IsMalformedNotAuthenticGarbage()
    {
        var body = new byte[] { (byte)'M', (byte)'P', 1, 1, 3, (byte)'b', (byte)'l' }; // string runs past the end
        var packet = body.Concat(_signer.Sign(body)).ToArray();
        Assert.Null(HeartbeatMessage.Decode(packet, _signer, out var authentic));
        Assert.True(authentic);
    }
}
