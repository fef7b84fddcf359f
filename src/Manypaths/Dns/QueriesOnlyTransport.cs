using System.Net;
using ARSoft.Tools.Net.Dns;

namespace Manypaths.Dns;

/// <summary>
/// ARSoft's UDP transport, with one rule added: a packet that is itself a response (QR set) gets no answer. ARSoft
/// answers everything it can parse (with SERVFAIL when the handler declines, even when it throws), so a single
/// spoofed response whose source is another DNS server (another node of ours, say) would start the two answering
/// each other forever. Handing the library no package for it makes it send nothing.
/// </summary>
internal sealed class QueriesOnlyTransport(IServerTransport inner, Action notAnswered) : IServerTransport
{
    public ushort DefaultAllowedResponseSize => inner.DefaultAllowedResponseSize;

    public bool SupportsMultipleResponses => inner.SupportsMultipleResponses;

    public bool AllowTruncatedResponses => inner.AllowTruncatedResponses;

    public TransportProtocol TransportProtocol => inner.TransportProtocol;

    public void Bind() => inner.Bind();

    public void Close() => inner.Close();

    public void Dispose() => (inner as IDisposable)?.Dispose();

    public async Task<IServerConnection?> AcceptConnectionAsync(CancellationToken token) =>
        await inner.AcceptConnectionAsync(token) is { } connection ? new Connection(connection, notAnswered) : null;

    private sealed class Connection(IServerConnection inner, Action notAnswered) : IServerConnection
    {

        public IServerTransport Transport => inner.Transport;

        public IPEndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public IPEndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool CanRead => inner.CanRead;

        public Task<bool> InitializeAsync(CancellationToken token) => inner.InitializeAsync(token);

        public async Task<DnsReceivedRawPackage?> ReceiveAsync(CancellationToken token)
        {
            var package = await inner.ReceiveAsync(token);
            var bytes = package?.ToArraySegment(false);
            if (bytes is { Count: > 2 } b && (b.Array![b.Offset + 2] & 0x80) != 0)
            {
                notAnswered();
                return null; // the library takes no package as nothing to answer
            }

            return package;
        }

        public Task<bool> SendAsync(DnsRawPackage package, CancellationToken token) => inner.SendAsync(package, token);

        public void Dispose() => (inner as IDisposable)?.Dispose();
    }
}
