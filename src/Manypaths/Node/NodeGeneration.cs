using System.Net;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Proxy;
using Manypaths.Service;

namespace Manypaths.Node;

/// <summary>
/// One applied config: every service's core (any protocol), the HTTP front ends, what each listen address serves,
/// and the probers. Immutable once built.
/// </summary>
internal sealed record NodeGeneration(
    int Number,
    ManypathsConfig Config,
    NodeOptions Node,
    IReadOnlyDictionary<string, ServiceCore> Services,
    IReadOnlyDictionary<string, ServiceRuntime> Http,
    IReadOnlyDictionary<IPEndPoint, ListenerBinding> Bindings,
    IReadOnlyList<ActiveProber> Probers,
    DateTimeOffset LoadedAt);
