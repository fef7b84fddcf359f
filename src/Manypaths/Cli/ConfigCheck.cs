using System.Net;
using System.Net.Sockets;
using Manypaths.Config;

namespace Manypaths.Cli;

/// <summary>`manypaths check`: every problem of a config, plus (with --node) listen addresses already taken.</summary>
internal static class ConfigCheck
{
    /// <summary>Prints every problem (at most <see cref="ConfigError.ShownAtMost"/>) and warning; 1 if any problem.</summary>
    public static int Print(string path, string? node, TextWriter output, TextWriter error)
    {
        var errors = Run(path, node, out var parsed, out var warnings);
        foreach (var line in ConfigError.Lines(warnings, "warning"))
        {
            error.WriteLine(line);
        }

        foreach (var line in ConfigError.Lines(errors))
        {
            error.WriteLine(line);
        }

        if (errors.Count > 0)
        {
            error.WriteLine($"{errors.Count:N0} problem(s) found.");
            return 1;
        }

        PrintSummary(parsed!, output);
        return 0;
    }

    public static IReadOnlyList<ConfigError> Run(string path, string? node, out ManypathsConfig? config, out IReadOnlyList<ConfigError> warnings)
    {
        var result = ConfigLoader.LoadFile(path);
        config = result.Config;
        warnings = result.Warnings;
        if (!result.Ok || node is null)
        {
            return result.Errors;
        }

        var errors = new List<ConfigError>();
        var c = result.Config!;
        if (c.Nodes.Count > 0 && !c.Nodes.ContainsKey(node))
        {
            errors.Add(new ConfigError(c.SourcePath, 1, 1, $"Node '{node}' is not declared under 'nodes' (declared: {string.Join(", ", c.Nodes.Keys)})."));
            return errors;
        }

        foreach (var (key, endpoint) in Endpoints(c, node))
        {
            if (InUse(endpoint) is { } reason)
            {
                var mark = c.Marks.GetValueOrDefault($"{key}.{node}") ?? c.Marks.GetValueOrDefault(key) ?? new ConfigError(c.SourcePath, 1, 1, key);
                errors.Add(mark with { Message = $"{Describe(key)} on node '{node}' listens on {endpoint}, which is already taken by another process ({reason})." });
            }
        }

        return errors;
    }

    private static IEnumerable<(string Key, IPEndPoint Endpoint)> Endpoints(ManypathsConfig c, string node)
    {
        if (c.Nodes.TryGetValue(node, out var n) && n.Admin is { } admin && ValueParsers.TryParseEndpoint($"{admin.Host}:{admin.Port}", out var a))
        {
            yield return ($"nodes.{node}.admin", a);
        }

        foreach (var s in c.Services.Values)
        {
            if (s.Listen?.For(node) is { } ep)
            {
                yield return ($"services.{s.Name}.listen", ep);
            }
        }

        foreach (var l in c.Listeners.Values)
        {
            if (l.Listen.For(node) is { } ep)
            {
                yield return ($"listeners.{l.Name}.listen", ep);
            }
        }
    }

    private static string Describe(string key)
    {
        var parts = key.Split('.');
        return parts[0] switch
        {
            "services" => $"Service '{parts[1]}'",
            "listeners" => $"Listener '{parts[1]}'",
            _ => "The admin API",
        };
    }

    private static string? InUse(IPEndPoint endpoint)
    {
        try
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(endpoint);
            socket.Listen(1);
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return "address already in use";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return "no such address on this machine";
        }
    }

    public static void PrintSummary(ManypathsConfig c, TextWriter output)
    {
        output.WriteLine($"{c.SourcePath}: valid.");
        output.WriteLine($"cluster {c.Cluster.Name}: {c.Nodes.Count} node(s), {c.Services.Count} service(s), {c.Listeners.Count} shared listener(s); admin writes {(c.Cluster.AdminTokenFile is null ? "disabled (no admin_token_file)" : "need the admin token")}");
        foreach (var n in c.Nodes.Values)
        {
            output.WriteLine($"  node {n.Name,-12} admin {n.Admin}  region {n.Region ?? "-"}");
        }

        foreach (var s in c.Services.Values)
        {
            var listen = s.Listen?.All?.ToString() ?? string.Join(", ", s.Listen?.PerNode.Select(p => $"{p.Key}={p.Value}") ?? []);
            output.WriteLine($"  service {s.Name} ({s.Mode.ToString().ToLowerInvariant()}) on {listen}: retries {s.Retry.Retries}, health {s.Health.Path} every {ValueParsers.FormatDuration(s.Health.Interval)}");
            foreach (var u in s.Upstreams.OrderBy(u => u.Tier))
            {
                output.WriteLine($"    tier {u.Tier} {u.Name,-10} {u.Url}  region {u.Region ?? "-"}  weight {u.Weight}");
            }
        }

        foreach (var l in c.Listeners.Values)
        {
            output.WriteLine($"  listener {l.Name}: {string.Join("; ", l.Routes.Select(r => $"{r.Host ?? "*"}{r.PathPrefix ?? "/"} -> {r.Service}"))}");
        }
    }
}
