using System.Net.Http.Headers;
using System.Text;
using Manypaths.Config;

namespace Manypaths.Cli;

/// <summary>Talks to a running node's admin API, addressed by --config/--node or by --admin/--token-file.</summary>
internal sealed class AdminClient(Uri baseUrl, string? token) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };

    public static AdminClient Resolve(string? configPath, string? node, string? admin, string? tokenFile)
    {
        string? token = tokenFile is null ? null : File.ReadAllText(tokenFile).Trim();
        if (admin is not null)
        {
            return new AdminClient(new Uri(admin), token);
        }

        if (configPath is null)
        {
            throw new ArgumentException("Say which node to talk to: --config FILE --node NAME, or --admin URL --token-file FILE.");
        }

        var result = ConfigLoader.LoadFile(configPath);
        if (!result.Ok)
        {
            throw new ArgumentException($"The config has problems; run 'manypaths check --config {configPath}'. First: {result.Errors[0]}");
        }

        var config = result.Config!;
        if (node is not null && config.Nodes.Count > 0 && !config.Nodes.ContainsKey(node))
        {
            // A typo must not fall back to a default address, where another node may be listening.
            throw new ArgumentException($"Node '{node}' is not declared under 'nodes' in {config.SourcePath} (declared: {string.Join(", ", config.Nodes.Keys)}).");
        }

        var name = node ?? config.Nodes.Keys.FirstOrDefault();
        var url = name is not null && config.Nodes.TryGetValue(name, out var n) && n.Admin is not null ? n.Admin : new Uri($"http://{Node.NodeHost.DefaultAdmin}/");
        token ??= config.Cluster.AdminToken?.Reveal();

        return new AdminClient(url, token);
    }

    public async Task<(int Status, string Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public void Dispose() => _http.Dispose();
}
