using System.Net;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Proxy;

namespace Manypaths.Node;

/// <summary>One applied config: the services, what each listen address serves, and the probers. Immutable once built.</summary>
internal sealed record NodeGeneration(
    int Number,
    ManypathsConfig Config,
    NodeOptions Node,
    IReadOnlyDictionary<string, ServiceRuntime> Services,
    IReadOnlyDictionary<IPEndPoint, ListenerBinding> Bindings,
    IReadOnlyList<ActiveProber> Probers,
    DateTimeOffset LoadedAt);
