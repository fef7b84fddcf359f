using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Checks that need the whole file: routes to services, and addresses two listeners would both bind.</summary>
internal sealed class ConfigCrossChecks(ConfigErrors errors)
{
    public void Check(
        ManypathsConfig config,
        IReadOnlyDictionary<string, YamlNode> serviceMarks,
        IReadOnlyDictionary<string, YamlNode> listenerMarks,
        IReadOnlyDictionary<(string Listener, int Index), YamlNode> routeMarks,
        IReadOnlyDictionary<string, YamlNode> nodeMarks)
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
                else if (config.Services.TryGetValue(route.Service, out var target) && target.Mode == ServiceMode.Tcp)
                {
                    errors.Add(routeMarks.GetValueOrDefault((listener.Name, i)), $"A route of listener '{listener.Name}' goes to service '{route.Service}', which is mode: tcp: HTTP listeners route only to mode: http services (a tcp service has its own 'listen').");
                }
            }
        }

        var owners = new Dictionary<string, YamlNode>(serviceMarks, StringComparer.Ordinal);
        foreach (var (name, mark) in listenerMarks)
        {
            owners["listener:" + name] = mark;
        }

        foreach (var (name, mark) in nodeMarks)
        {
            owners["nodes." + name] = mark;
        }

        new ListenClashes(errors, owners).Check(config);
    }
}
