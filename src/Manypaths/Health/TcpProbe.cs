using System.Net.Sockets;

namespace Manypaths.Health;

/// <summary>A TCP connect to the upstream's address succeeds: all a plain mode: tcp service can check.</summary>
internal sealed class TcpProbe(Uri address, TimeProvider time, Mesh.FaultInjector? faults) : IProbe
{
    private readonly string _host = address.Host.Trim('[', ']');

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        if (faults?.For(_host, address.Port) is { } fault && (fault.Kind == Mesh.FaultKind.Reset || faults.Drops(_host, address.Port)))
        {
            if (fault.Kind == Mesh.FaultKind.Reset)
            {
                throw new SocketException((int)SocketError.ConnectionRefused);
            }

            await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken); // the SYN is lost
        }

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_host, address.Port, cancellationToken);
        return new ProbeResult(true, "connected");
    }
}
