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
