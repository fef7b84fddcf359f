using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Manypaths.Dns;

/// <summary>
/// Writes a response (ARSoft's message model, as <see cref="ZoneBook"/> builds it) to the wire, into a caller's
/// buffer, with name compression: the UDP hot path's encoder (ARSoft's own is internal and allocates per message).
/// It knows the record types a zone can hold (A, AAAA, NS, CNAME, TXT, MX, SRV, SOA) and OPT with a client subnet;
/// anything else is a programming error (<see cref="NotSupportedException"/>). One instance per thread: it keeps
/// the names written so far.
/// </summary>
internal sealed class WireWriter
{
    /// <summary>Names written so far, for compression: the labels, from which label, at which offset.</summary>
    private readonly List<(string[] Labels, int From, int Offset)> _names = new(32);
    private byte[] _buffer = [];
    private int _at;

    /// <summary>
    /// Writes <paramref name="response"/> into <paramref name="buffer"/>. When it is longer than
    /// <paramref name="limit"/> (a UDP client's size), writes the header, question and OPT only, with TC set (RFC 2181
    /// 9: the client asks again over TCP).
    /// </summary>
    /// <returns>The length written.</returns>
    public int Write(DnsMessage response, byte[] buffer, int limit)
    {
        var length = WriteAll(response, buffer, truncated: false);
        return length <= limit ? length : WriteAll(response, buffer, truncated: true);
    }

    private int WriteAll(DnsMessage m, byte[] buffer, bool truncated)
    {
        _buffer = buffer;
        _at = 0;
        _names.Clear();
        var opt = m.EDnsOptions;
        var additional = truncated ? 0 : m.AdditionalRecords.Count(r => r is not OptRecord);
        UShort(m.TransactionID);
        UShort(Flags(m, truncated));
        UShort((ushort)m.Questions.Count);
        UShort((ushort)(truncated ? 0 : m.AnswerRecords.Count));
        UShort((ushort)(truncated ? 0 : m.AuthorityRecords.Count));
        UShort((ushort)(additional + (opt is null ? 0 : 1)));
        foreach (var q in m.Questions)
        {
            Name(q.Name);
            UShort((ushort)q.RecordType);
            UShort((ushort)q.RecordClass);
        }

        if (!truncated)
        {
            foreach (var r in m.AnswerRecords)
            {
                Record(r);
            }

            foreach (var r in m.AuthorityRecords)
            {
                Record(r);
            }

            foreach (var r in m.AdditionalRecords)
            {
                if (r is not OptRecord)
                {
                    Record(r);
                }
            }
        }

        if (opt is not null)
        {
            Opt(opt);
        }

        return _at;
    }

    private static ushort Flags(DnsMessage m, bool truncated)
    {
        var flags = (m.IsQuery ? 0 : 0x8000) | (((int)m.OperationCode & 0xF) << 11) | ((int)m.ReturnCode & 0xF);
        flags |= m.IsAuthoritiveAnswer ? 0x0400 : 0;
        flags |= truncated || m.IsTruncated ? 0x0200 : 0;
        flags |= m.IsRecursionDesired ? 0x0100 : 0;
        flags |= m.IsRecursionAllowed ? 0x0080 : 0;
        flags |= m.IsAuthenticData ? 0x0020 : 0;
        flags |= m.IsCheckingDisabled ? 0x0010 : 0;
        return (ushort)flags;
    }

    private void Record(DnsRecordBase r)
    {
        Name(r.Name);
        UShort((ushort)r.RecordType);
        UShort((ushort)r.RecordClass);
        UInt((uint)r.TimeToLive);
        var lengthAt = _at;
        _at += 2;
        switch (r)
        {
            case AddressRecordBase a:
                Address(a.Address, a.Address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16);
                break;
            case NsRecord ns:
                Name(ns.NameServer);
                break;
            case CNameRecord cname:
                Name(cname.CanonicalName);
                break;
            case MxRecord mx:
                UShort(mx.Preference);
                Name(mx.ExchangeDomainName);
                break;
            case SrvRecord srv:
                UShort(srv.Priority);
                UShort(srv.Weight);
                UShort(srv.Port);
                Name(srv.Target, compress: false); // RFC 2782: the target is not compressed
                break;
            case SoaRecord soa:
                Name(soa.MasterName);
                Name(soa.ResponsibleName);
                UInt(soa.SerialNumber);
                UInt((uint)soa.RefreshInterval);
                UInt((uint)soa.RetryInterval);
                UInt((uint)soa.ExpireInterval);
                UInt((uint)soa.NegativeCachingTTL);
                break;
            case TxtRecord txt:
                foreach (var part in txt.TextParts)
                {
                    Text(part);
                }

                break;
            default:
                throw new NotSupportedException($"no wire form for {r.RecordType} records");
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(lengthAt), (ushort)(_at - lengthAt - 2));
    }

    private void Opt(OptRecord opt)
    {
        _buffer[_at++] = 0; // the root name
        UShort((ushort)RecordType.Opt);
        UShort(opt.UdpPayloadSize);
        UInt((uint)opt.TimeToLive); // extended rcode, version, DO
        var lengthAt = _at;
        _at += 2;
        foreach (var option in opt.Options)
        {
            if (option is ClientSubnetOption ecs)
            {
                // At most the family's address length, whatever prefix the query claimed (so the option stays well formed).
                var bytes = Math.Min((ecs.SourceNetmask + 7) / 8, ecs.Address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16);
                UShort((ushort)EDnsOptionType.ClientSubnet);
                UShort((ushort)(4 + bytes));
                UShort((ushort)(ecs.Address.AddressFamily == AddressFamily.InterNetwork ? 1 : 2));
                _buffer[_at++] = ecs.SourceNetmask;
                _buffer[_at++] = ecs.ScopeNetmask;
                Address(ecs.Address, bytes);
            }
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(lengthAt), (ushort)(_at - lengthAt - 2));
    }

    private void Address(IPAddress address, int bytes)
    {
        Span<byte> all = stackalloc byte[16];
        address.TryWriteBytes(all, out var written);
        all[..Math.Min(bytes, written)].CopyTo(_buffer.AsSpan(_at));
        _at += Math.Min(bytes, written);
    }

    /// <summary>A name, pointing at an earlier copy of its longest known suffix (case-insensitive, as RFC 1035 4.1.4 allows).</summary>
    private void Name(DomainName name, bool compress = true)
    {
        var labels = name.Labels;
        for (var i = 0; i < labels.Length; i++)
        {
            if (compress && Known(labels, i) is var offset and >= 0)
            {
                UShort((ushort)(0xC000 | offset));
                return;
            }

            if (_at < 0x3FFF)
            {
                _names.Add((labels, i, _at));
            }

            var label = labels[i];
            _buffer[_at++] = (byte)label.Length;
            _at += System.Text.Encoding.ASCII.GetBytes(label, _buffer.AsSpan(_at));
        }

        _buffer[_at++] = 0;
    }

    private int Known(string[] labels, int from)
    {
        foreach (var (known, knownFrom, offset) in _names)
        {
            if (known.Length - knownFrom == labels.Length - from && SameSuffix(known, knownFrom, labels, from))
            {
                return offset;
            }
        }

        return -1;
    }

    private static bool SameSuffix(string[] a, int aFrom, string[] b, int bFrom)
    {
        for (var k = 0; aFrom + k < a.Length; k++)
        {
            if (!string.Equals(a[aFrom + k], b[bFrom + k], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A TXT value as character-strings of at most 255 bytes each (RFC 1035 3.3.14: a longer value, a DKIM key
    /// say, is split, as ARSoft's encoder does on TCP); an empty value is one empty string.</summary>
    private void Text(string text)
    {
        var from = 0;
        do
        {
            var length = Math.Min(255, text.Length - from);
            _buffer[_at++] = (byte)length;
            _at += System.Text.Encoding.ASCII.GetBytes(text.AsSpan(from, length), _buffer.AsSpan(_at));
            from += length;
        }
        while (from < text.Length);
    }

    private void UShort(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_at), value);
        _at += 2;
    }

    private void UInt(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_at), value);
        _at += 4;
    }
}
