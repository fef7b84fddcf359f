using System.Net;
using YamlDotNet.RepresentationModel;

namespace Manypaths.Config;

/// <summary>Walks the YAML tree section by section; cross-references are checked in <see cref="ConfigCrossChecks"/>.</summary>
internal sealed class ConfigReader(ConfigErrors errors, string baseDirectory)
{
    private readonly Dictionary<string, YamlNode> _nodeMarks = [];
    private readonly Dictionary<string, ConfigError> _marks = [];

    private void Mark(string key, YamlNode? node)
    {
        if (node is not null)
        {
            _marks[key] = new ConfigError(errors.File, (int)node.Start.Line, (int)node.Start.Column, key);
        }
    }

    /// <summary>Where each route's 'service' was written, for the unknown-service error.</summary>
    private readonly Dictionary<(string Listener, int Index), YamlNode> _routeMarks = [];

    public ManypathsConfig Read(YamlMap root, string path)
    {
        root.AllowOnly("cluster", "nodes", "services", "listeners", "status", "alerts", "mesh", "dns");
        var nodes = ReadNodes(root.Map("nodes"));
        var cluster = ReadCluster(root.Map("cluster"), nodes.Count, root.Node);
        var services = ReadServices(root.Map("services"), root.Node);
        var listeners = ReadListeners(root.Map("listeners"));
        var config = new ManypathsConfig
        {
            SourcePath = path,
            Cluster = cluster,
            Nodes = nodes,
            Services = services.Options,
            Listeners = listeners.Options,
            Status = ReadStatus(root.Map("status")),
            Alerts = ReadAlerts(root.Map("alerts")),
            Mesh = ReadMesh(root.Map("mesh")),
            Dns = new DnsReader(errors, _nodeMarks, services.Options).Read(root.Map("dns")),
            Marks = _marks,
        };
        var listenerMarks = new Dictionary<string, YamlNode>(listeners.Marks, StringComparer.Ordinal);
        if (root.Map("dns")?.Raw("listen") is { } dnsListen)
        {
            listenerMarks[ListenClashes.DnsKey] = dnsListen;
        }

        new ConfigCrossChecks(errors).Check(config, services.Marks, listenerMarks, _routeMarks, _nodeMarks);
        return config;
    }

    private ClusterOptions ReadCluster(YamlMap? map, int nodeCount, YamlNode rootNode)
    {
        if (map is null)
        {
            if (nodeCount > 1)
            {
                errors.Add(rootNode, "A config with more than one node needs 'cluster.secret_file' to authenticate peer traffic.");
            }

            return new ClusterOptions();
        }

        map.AllowOnly("name", "secret_file", "admin_token_file", "shutdown_grace", "quorum");
        var secret = ExistingFile(map, "secret_file", "peer secret");
        if (map.Raw("secret_file") is null && nodeCount > 1)
        {
            errors.Add(map.Node, "A config with more than one node needs 'cluster.secret_file' to authenticate peer traffic.");
        }

        var tokenFile = ExistingFile(map, "admin_token_file", "admin token");
        AdminToken? token = null;
        if (tokenFile is not null)
        {
            token = AdminToken.Read(tokenFile, out var problem);
            if (problem is not null)
            {
                errors.Add(map.Raw("admin_token_file"), problem);
            }
        }

        return new ClusterOptions
        {
            Name = map.String("name") ?? "manypaths",
            SecretFile = secret,
            AdminTokenFile = tokenFile,
            AdminToken = token,
            ShutdownGrace = map.Duration("shutdown_grace") ?? TimeSpan.FromSeconds(10),
            Quorum = DnsReader.ReadQuorum(map, "quorum") ?? 0.5,
        };
    }

    private string? ExistingFile(YamlMap map, string key, string what) => ConfigFiles.Existing(map, key, what, baseDirectory);

    private Dictionary<string, NodeOptions> ReadNodes(YamlMap? map)
    {
        var nodes = new Dictionary<string, NodeOptions>(StringComparer.Ordinal);
        if (map is null)
        {
            return nodes;
        }

        foreach (var (name, keyNode, value) in map.Entries())
        {
            var where = $"node '{name}'";
            if (!IsName(name))
            {
                errors.Add(keyNode, $"'{name}' is not a valid node name: use letters, digits, '-' and '_'.");
                continue;
            }

            var node = YamlMap.From(value, errors, where);
            if (node is null)
            {
                errors.Add(value, $"{where} needs at least an 'admin' address.");
                continue;
            }

            node.AllowOnly("mesh", "admin", "region");
            _nodeMarks[name] = keyNode;
            Mark($"nodes.{name}", keyNode);
            Mark($"nodes.{name}.admin", node.Raw("admin"));
            Mark($"nodes.{name}.mesh", node.Raw("mesh"));
            nodes[name] = new NodeOptions
            {
                Name = name,
                Mesh = node.HttpUrl("mesh"),
                Admin = node.HttpUrl("admin", required: true),
                Region = node.String("region"),
            };
        }

        return nodes;
    }

    private (Dictionary<string, ServiceOptions> Options, Dictionary<string, YamlNode> Marks) ReadServices(YamlMap? map, YamlNode rootNode)
    {
        var services = new Dictionary<string, ServiceOptions>(StringComparer.Ordinal);
        var marks = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        if (map is null)
        {
            errors.Add(rootNode, "The config declares no 'services': there is nothing to serve.");
            return (services, marks);
        }

        if (!map.Entries().Any())
        {
            errors.Add(map.Node, "'services' is empty: there is nothing to serve.");
        }

        foreach (var (name, keyNode, value) in map.Entries())
        {
            if (!IsName(name))
            {
                errors.Add(keyNode, $"'{name}' is not a valid service name: use letters, digits, '-' and '_'.");
                continue;
            }

            var service = YamlMap.From(value, errors, $"service '{name}'");
            if (service is null)
            {
                errors.Add(value, $"Service '{name}' needs 'listen' and 'upstreams'.");
                continue;
            }

            marks[name] = keyNode;
            MarkListen($"services.{name}.listen", service.Raw("listen"));
            services[name] = new ServiceReader(errors, baseDirectory, _nodeMarks).Read(name, service);
        }

        return (services, marks);
    }

    private (Dictionary<string, ListenerOptions> Options, Dictionary<string, YamlNode> Marks) ReadListeners(YamlMap? map)
    {
        var listeners = new Dictionary<string, ListenerOptions>(StringComparer.Ordinal);
        var marks = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        if (map is null)
        {
            return (listeners, marks);
        }

        foreach (var (name, keyNode, value) in map.Entries())
        {
            if (!IsName(name))
            {
                errors.Add(keyNode, $"'{name}' is not a valid listener name: use letters, digits, '-' and '_'.");
                continue;
            }

            var listener = YamlMap.From(value, errors, $"listener '{name}'");
            if (listener is null)
            {
                errors.Add(value, $"Listener '{name}' needs 'listen' and 'routes'.");
                continue;
            }

            listener.AllowOnly("listen", "routes");
            marks[name] = keyNode;
            MarkListen($"listeners.{name}.listen", listener.Raw("listen"));
            var listen = ListenReader.Read(listener, errors, _nodeMarks, required: true);
            var routes = new List<ListenerRoute>();
            var seq = listener.List("routes");
            if (seq is null || seq.Children.Count == 0)
            {
                errors.Add(listener.Node, $"Listener '{name}' needs at least one route.");
            }

            foreach (var item in seq?.Children ?? [])
            {
                var route = YamlMap.FromItem(item, errors, $"a route of listener '{name}'");
                if (route is null)
                {
                    continue;
                }

                route.AllowOnly("host", "path", "service");
                var path = route.String("path");
                if (path is not null && !path.StartsWith('/'))
                {
                    errors.Add(route.Raw("path"), $"A route path must start with '/', not '{path}'.");
                }

                var service = route.String("service", required: true) ?? "";
                routes.Add(new ListenerRoute(route.String("host"), path, service));
                _routeMarks[(name, routes.Count - 1)] = route.Raw("service") ?? item;
            }

            listeners[name] = new ListenerOptions { Name = name, Listen = listen ?? new ListenAddresses(), Routes = routes };
        }

        return (listeners, marks);
    }

    private Mesh.MeshOptions ReadMesh(YamlMap? map)
    {
        var d = new Mesh.MeshOptions();
        if (map is null)
        {
            return d;
        }

        map.AllowOnly("heartbeat", "dead_after", "window", "replay_window", "hop_limit");
        return new Mesh.MeshOptions
        {
            Heartbeat = map.Duration("heartbeat", TimeSpan.FromMilliseconds(10)) ?? d.Heartbeat,
            DeadAfter = map.Duration("dead_after", TimeSpan.FromMilliseconds(50)) ?? d.DeadAfter,
            Window = map.Int("window", 4, 10000) ?? d.Window,
            ReplayWindow = map.Duration("replay_window", TimeSpan.FromSeconds(1)) ?? d.ReplayWindow,
            HopLimit = map.Int("hop_limit", 1, 3) ?? d.HopLimit,
        };
    }

    private StatusOptions ReadStatus(YamlMap? map)
    {
        if (map is null)
        {
            return new StatusOptions();
        }

        map.AllowOnly("title", "public", "hide_nodes", "data_dir", "retention", "history");
        var dataDir = map.String("data_dir");
        if (map.Scalar("data_dir") is { } dirNode && string.IsNullOrWhiteSpace(dataDir))
        {
            errors.Add(dirNode, "'data_dir' in 'status' is empty: name a directory, or leave the key out for the default ($STATE_DIRECTORY, else ~/.local/state/manypaths).");
            dataDir = null;
        }

        return new StatusOptions
        {
            Title = map.String("title") ?? "Manypaths status",
            Public = map.Bool("public") ?? false,
            DataDir = dataDir is null ? null : Path.GetFullPath(Path.Combine(baseDirectory, dataDir)),
            Retention = map.Duration("retention", TimeSpan.FromHours(1)) ?? TimeSpan.FromDays(90),
            History = map.Bool("history") ?? true,
            HideNodes = map.Bool("hide_nodes") ?? false,
        };
    }

    private AlertOptions ReadAlerts(YamlMap? map) => map is null ? new AlertOptions() : new AlertsReader(errors, baseDirectory).Read(map);

    private void MarkListen(string key, YamlNode? listen)
    {
        Mark(key, listen);
        if (listen is YamlMappingNode perNode)
        {
            foreach (var (k, v) in perNode.Children)
            {
                if (k is YamlScalarNode { Value: { } name })
                {
                    Mark($"{key}.{name}", v);
                }
            }
        }
    }

    public static bool IsName(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>Reads 'listen': one address, or a mapping of node name to address.</summary>
internal static class ListenReader
{
    public static ListenAddresses? Read(YamlMap owner, ConfigErrors errors, IReadOnlyDictionary<string, YamlNode> nodes, bool required)
    {
        var raw = owner.Raw("listen");
        if (raw is null)
        {
            if (required)
            {
                errors.Add(owner.Node, $"{Capitalize(owner.Where)} is missing the required key 'listen'.");
            }

            return null;
        }

        if (raw is YamlScalarNode scalar)
        {
            return Parse(scalar, errors) is { } ep ? new ListenAddresses { All = ep } : null;
        }

        var map = YamlMap.From(raw, errors, $"'listen' in {owner.Where}");
        if (map is null)
        {
            return null;
        }

        if (((YamlMappingNode)raw).Children.Count == 0)
        {
            errors.Add(raw, $"'listen' in {owner.Where} is empty: give one address, or one per node.");
            return null;
        }

        var perNode = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        foreach (var (node, keyNode, value) in map.Entries())
        {
            if (!nodes.ContainsKey(node))
            {
                var hint = Spelling.Closest(node, nodes.Keys);
                errors.Add(keyNode, $"'listen' in {owner.Where} names node '{node}', which is not declared under 'nodes'.{(hint is null ? "" : $" Did you mean '{hint}'?")}");
                continue;
            }

            if (value is YamlScalarNode s && Parse(s, errors) is { } ep)
            {
                perNode[node] = ep;
            }
            else if (value is not YamlScalarNode)
            {
                errors.Add(value, $"The listen address for node '{node}' must be a single address such as 127.0.0.1:8080.");
            }
        }

        return new ListenAddresses { PerNode = perNode };
    }

    private static IPEndPoint? Parse(YamlScalarNode scalar, ConfigErrors errors)
    {
        if (ValueParsers.TryParseEndpoint(scalar.Value, out var ep))
        {
            return ep;
        }

        errors.Add(scalar, $"'{scalar.Value}' is not a listen address: write IP:port, such as 127.0.0.1:8080 or [::1]:8080.");
        return null;
    }

    private static string Capitalize(string s) => YamlMap.Capitalize(s);
}
