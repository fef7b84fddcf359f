using System.Net;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Checks that need the whole file: routes to services, listen address clashes.</summary>
internal sealed class ConfigCrossChecks(ConfigErrors errors)
{
    public void Check(
        ManypathsConfig config,
        IReadOnlyDictionary<string, YamlNode> serviceMarks,
        IReadOnlyDictionary<string, YamlNode> listenerMarks,
        IReadOnlyDictionary<(string Listener, int Index), YamlNode> routeMarks)
    {
        foreach (var listener in config.Listeners.Values)
        {
            for (var i = 0; i < listener.Routes.Count; i++)
            {
                var route = listener.Routes[i];
                if (route.Service.Length > 0 && !config.Services.ContainsKey(route.Service))
                {
                    var hint = Spelling.Closest(route.Service, config.Services.Keys);
                    errors.Add(routeMarks.GetValueOrDefault((listener.Name, i)), $"A route of listener '{listener.Name}' goes to service '{route.Service}', which is not declared under 'services'.{(hint is null ? "" : $" Did you mean '{hint}'?")}");
                }
            }
        }

        CheckListenClashes(config, serviceMarks, listenerMarks);
        CheckHeartbeatSize(config, serviceMarks);
    }

    /// <summary>
    /// Room for the direct views in one heartbeat datagram: of the 65,507-byte UDP payload, 15 KB stay for the
    /// header, the link row and the operator switches (maintenance messages are capped at 500 characters).
    /// </summary>
    internal const int HeartbeatViewBudget = 50_000;

    /// <summary>
    /// Every ping carries this node's view of every upstream of every relay service in one UDP datagram; a config
    /// whose views cannot fit would silently cut every peer link, so it is refused here instead.
    /// </summary>
    private void CheckHeartbeatSize(ManypathsConfig config, IReadOnlyDictionary<string, YamlNode> serviceMarks)
    {
        var bytes = 0;
        var views = 0;
        foreach (var (name, service) in config.Services)
        {
            if (!service.Relay)
            {
                continue;
            }

            foreach (var u in service.Upstreams)
            {
                // Layout of one view: two length-prefixed UTF-8 strings, a state byte and two floats.
                bytes += PrefixedLength(name) + PrefixedLength(u.Name) + 9;
                views++;
            }

            if (bytes > HeartbeatViewBudget)
            {
                errors.Add(serviceMarks.GetValueOrDefault(name), $"The relay services up to '{name}' have {views} upstreams, whose views take about {bytes:N0} bytes in every heartbeat; one heartbeat datagram has room for {HeartbeatViewBudget:N0}. Set 'relay: false' on some services, or use fewer or shorter-named upstreams.");
                return;
            }
        }
    }

    private static int PrefixedLength(string s)
    {
        var n = System.Text.Encoding.UTF8.GetByteCount(s);
        return n + (n < 128 ? 1 : n < 16384 ? 2 : 3);
    }

    private static bool IsWildcard(IPEndPoint ep) => ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any);

    private void CheckListenClashes(ManypathsConfig config, IReadOnlyDictionary<string, YamlNode> serviceMarks, IReadOnlyDictionary<string, YamlNode> listenerMarks)
    {
        var nodeNames = config.Nodes.Count > 0 ? config.Nodes.Keys.ToList() : ["(any)"];
        foreach (var node in nodeNames)
        {
            var taken = new Dictionary<IPEndPoint, string>();
            void Claim(IPEndPoint? ep, string owner, YamlNode? mark)
            {
                if (ep is null)
                {
                    return;
                }

                var other = taken.TryGetValue(ep, out var exact) ? exact
                    : taken.FirstOrDefault(t => t.Key.Port == ep.Port && (IsWildcard(t.Key) || IsWildcard(ep))).Value;
                if (other is not null)
                {
                    errors.Add(mark, $"{owner} listens on {ep}{(node == "(any)" ? "" : $" on node '{node}'")}, which {other} already uses.");
                    return;
                }

                taken[ep] = owner;
            }

            foreach (var (name, n) in config.Nodes)
            {
                if (name == node && n.Admin is { } admin && ValueParsers.TryParseEndpoint($"{admin.Host}:{admin.Port}", out var adminEp))
                {
                    Claim(adminEp, $"the admin API of node '{name}'", null);
                }
            }

            foreach (var s in config.Services.Values)
            {
                Claim(s.Listen?.For(node), $"Service '{s.Name}'", serviceMarks.GetValueOrDefault(s.Name));
            }

            foreach (var l in config.Listeners.Values)
            {
                Claim(l.Listen.For(node), $"Listener '{l.Name}'", listenerMarks.GetValueOrDefault(l.Name));
            }
        }
    }
}
