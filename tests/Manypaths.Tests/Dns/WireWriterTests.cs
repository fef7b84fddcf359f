using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Manypaths.Dns;

namespace Manypaths.Tests.Dns;

/// <summary>
/// The UDP path's own encoder against ARSoft's parser (the library the rest of the node uses for the wire format):
/// every record type a zone can hold, the header flags, EDNS with a client subnet, compression, and truncation to the
/// client's size with TC set.
/// </summary>
public sealed class WireWriterTests
{
    private static readonly DomainName Www = DomainName.Parse("www.example.test");
    private static readonly DomainName Apex = DomainName.Parse("example.test");

    private static DnsMessage Response(RecordType type = RecordType.A)
    {
        var query = new DnsMessage { TransactionID = 0x1234, IsRecursionDesired = true };
        query.Questions.Add(new DnsQuestion(Www, type, RecordClass.INet));
        var response = query.CreateResponseInstance();
        response.IsAuthoritiveAnswer = true;
        return response;
    }

    [Fact]
    public void EveryRecordTypeAZoneCanHold_ParsesBackAsWritten()
    {
        var m = Response();
        m.AnswerRecords.Add(new ARecord(Www, 20, IPAddress.Parse("192.0.2.1")));
        m.AnswerRecords.Add(new AaaaRecord(Www, 20, IPAddress.Parse("2001:db8::1")));
        m.AnswerRecords.Add(new CNameRecord(DomainName.Parse("alias.example.test"), 30, Www));
        m.AnswerRecords.Add(new NsRecord(Apex, 40, DomainName.Parse("ns1.example.test")));
        m.AnswerRecords.Add(new MxRecord(Apex, 50, 10, DomainName.Parse("mail.example.test")));
        m.AnswerRecords.Add(new SrvRecord(DomainName.Parse("_sip._tcp.example.test"), 60, 1, 2, 5060, DomainName.Parse("sip.example.test")));
        m.AnswerRecords.Add(new TxtRecord(Apex, 70, "v=spf1 -all"));
        m.AuthorityRecords.Add(new SoaRecord(Apex, 80, DomainName.Parse("ns1.example.test"), DomainName.Parse("hostmaster.example.test"), 7, 3600, 600, 86400, 20));

        var back = RoundTrip(m, 4096, out _);

        Assert.Equal(0x1234, back.TransactionID);
        Assert.False(back.IsQuery);
        Assert.True(back.IsAuthoritiveAnswer);
        Assert.True(back.IsRecursionDesired);
        Assert.False(back.IsTruncated);
        Assert.Equal(Www, back.Questions.Single().Name);
        Assert.Equal(m.AnswerRecords.Select(r => r.ToString()), back.AnswerRecords.Select(r => r.ToString()));
        Assert.Equal(m.AuthorityRecords.Select(r => r.ToString()), back.AuthorityRecords.Select(r => r.ToString()));
    }

    [Fact]
    public void ATxtValueOver255Bytes_IsSplitIntoStrings_NotCut()
    {
        var value = new string('k', 600); // a DKIM key, say
        var m = Response(RecordType.Txt);
        m.AnswerRecords.Add(new TxtRecord(Www, 20, value));
        var txt = Assert.IsType<TxtRecord>(Assert.Single(RoundTrip(m, 4096, out _).AnswerRecords));
        Assert.Equal([255, 255, 90], txt.TextParts.Select(p => p.Length));
        Assert.Equal(value, string.Concat(txt.TextParts));
    }

    [Fact]
    public void NegativeAnswer_CarriesTheReturnCode()
    {
        var m = Response();
        m.ReturnCode = ReturnCode.NxDomain;
        Assert.Equal(ReturnCode.NxDomain, RoundTrip(m, 512, out _).ReturnCode);
        m.ReturnCode = ReturnCode.Refused;
        m.IsAuthoritiveAnswer = false;
        var refused = RoundTrip(m, 512, out _);
        Assert.Equal(ReturnCode.Refused, refused.ReturnCode);
        Assert.False(refused.IsAuthoritiveAnswer);
    }

    [Fact]
    public void Edns_WithAClientSubnet_IsEchoedWithItsScope()
    {
        var m = Response();
        m.EDnsOptions = new OptRecord { UdpPayloadSize = 1232 };
        m.EDnsOptions.Options.Add(new ClientSubnetOption(24, 16, IPAddress.Parse("198.51.100.0")));
        m.AnswerRecords.Add(new ARecord(Www, 20, IPAddress.Parse("192.0.2.1")));

        var back = RoundTrip(m, 1232, out _);

        Assert.True(back.IsEDnsEnabled);
        Assert.Equal(1232, back.EDnsOptions!.UdpPayloadSize);
        var ecs = Assert.IsType<ClientSubnetOption>(Assert.Single(back.EDnsOptions.Options));
        Assert.Equal((24, 16, "198.51.100.0"), (ecs.SourceNetmask, ecs.ScopeNetmask, ecs.Address.ToString()));
    }

    [Fact]
    public void RepeatedNames_AreCompressed()
    {
        var m = Response();
        for (var i = 1; i <= 8; i++)
        {
            m.AnswerRecords.Add(new ARecord(Www, 20, IPAddress.Parse($"192.0.2.{i}")));
        }

        RoundTrip(m, 512, out var length);

        // header 12 + question (18-byte name + 4) + 8 answers of (2-byte pointer + 10 + 4 bytes of address)
        Assert.Equal(12 + 22 + (8 * 16), length);
    }

    [Fact]
    public void LongerThanTheClientTakes_IsTruncatedToTheQuestion_WithTc()
    {
        var m = Response();
        m.EDnsOptions = new OptRecord { UdpPayloadSize = 1232 };
        for (var i = 0; i < 40; i++)
        {
            m.AnswerRecords.Add(new AaaaRecord(Www, 20, IPAddress.Parse($"2001:db8::{i + 1:x}")));
        }

        var full = RoundTrip(m, 1232, out var fullLength);
        Assert.False(full.IsTruncated);
        Assert.Equal(40, full.AnswerRecords.Count);
        Assert.True(fullLength > 512);

        var cut = RoundTrip(m, 512, out var cutLength);
        Assert.True(cut.IsTruncated);
        Assert.Empty(cut.AnswerRecords);
        Assert.Equal(Www, cut.Questions.Single().Name);
        Assert.True(cut.IsEDnsEnabled);
        Assert.True(cutLength <= 512);
    }

    private static DnsMessage RoundTrip(DnsMessage m, int limit, out int length)
    {
        var buffer = new byte[65_535];
        length = new WireWriter().Write(m, buffer, limit);
        return DnsMessage.Parse(new ArraySegment<byte>(buffer, 0, length));
    }
}
