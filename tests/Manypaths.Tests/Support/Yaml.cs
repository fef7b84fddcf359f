using Manypaths.Demo;

namespace Manypaths.Tests.Support;

/// <summary>Config text for tests: one node n1 with a free admin port and a free proxy port.</summary>
internal static class Yaml
{
    public static (string Yaml, int ProxyPort) Service(string upstreams, string extra = "", string region = "in-south", string cluster = "")
    {
        var proxy = FreePort.Next();
        var admin = FreePort.Next();
        var yaml = $"""
            cluster: {"{"} name: test, admin_token_file: admin.token, shutdown_grace: 2s{cluster} {"}"}
            nodes:
              n1: {"{"} admin: http://127.0.0.1:{admin}, region: {region} {"}"}
            services:
              svc:
                listen: 127.0.0.1:{proxy}
                upstreams:
            {Indent(upstreams, 6)}
            {Indent(extra, 4)}
            """;
        return (yaml, proxy);
    }

    private static string Indent(string text, int spaces) =>
        string.Join("\n", text.Split('\n').Select(l => l.Length == 0 ? l : new string(' ', spaces) + l.TrimStart()));
}
