using System.Net;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Proxy;
using Manypaths.Service;

namespace Manypaths.Node;

/// <summary>
/// One applied config: every service's core (any protocol), the HTTP and TCP front ends, what each listen address serves,
/// and the probers. Immutable once built.
/// </summary>
internal sealed record NodeGeneration(
    int Number,
    ManypathsConfig Config,
    NodeOptions Node,
    IReadOnlyDictionary<string, ServiceCore> Services,
    IReadOnlyDictionary<string, ServiceRuntime> Http,
    IReadOnlyDictionary<string, Tcp.TcpProxy> Tcp,
    IReadOnlyDictionary<IPEndPoint, ListenerBinding> Bindings,
    IReadOnlyDictionary<IPEndPoint, string> TcpBindings,
    IReadOnlyList<ActiveProber> Probers,
    DateTimeOffset LoadedAt,
    Dns.ZoneBook? Dns = null);
