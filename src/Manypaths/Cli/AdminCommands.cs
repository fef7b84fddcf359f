using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Manypaths.Cli;

/// <summary>`status`, `maintenance on|off`, `drain|undrain`: calls to a running node's admin API.</summary>
internal static class AdminCommands
{
    public static async Task<int> StatusAsync(AdminClient client, bool json)
    {
        var (status, body) = await client.SendAsync(HttpMethod.Get, "api/status");
        if (status != 200)
        {
            await Console.Error.WriteLineAsync($"The node answered {status}: {body}");
            return 1;
        }

        if (json)
        {
            Console.WriteLine(body);
            return 0;
        }

        if (Console.IsOutputRedirected)
        {
            // Piped into a file or a script: plain text, no wrapping.
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(Console.Out) });
            AnsiConsole.Console.Profile.Width = 240;
        }

        var report = JsonNode.Parse(body)!;
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape((string?)report["cluster"] ?? "")}[/] as seen by node [bold]{Markup.Escape((string?)report["node"] ?? "")}[/] at {Markup.Escape((string?)report["generated_at"] ?? "")}");
        var table = new Table().AddColumns("service", "state", "upstream", "region", "tier", "upstream state", "latency", "why");
        foreach (var s in report["services"]!.AsArray())
        {
            foreach (var u in s!["upstreams"]!.AsArray())
            {
                var drained = (bool?)u!["drained"] == true ? " (drained)" : "";
                table.AddRow(Markup.Escape((string?)s["name"] ?? ""), Markup.Escape((string?)s["state"] ?? ""), Markup.Escape(((string?)u["name"] ?? "") + drained),
                    Markup.Escape((string?)u["region"] ?? "-"), u["tier"]?.ToString() ?? "", Markup.Escape((string?)u["state"] ?? ""),
                    u["latency_ms"] is { } l ? $"{(double)l:0.0} ms" : "-", Markup.Escape((string?)u["reason"] ?? ""));
            }
        }

        AnsiConsole.Write(table);
        WriteLinkMatrix(report["link_matrix"]?.AsArray());
        return 0;
    }

    /// <summary>The peer link matrix as a grid: a row per measuring node, a column per peer.</summary>
    private static void WriteLinkMatrix(JsonArray? cells)
    {
        if (cells is null || cells.Count == 0)
        {
            return;
        }

        var byPair = cells.ToDictionary(c => ((string)c!["from"]!, (string)c!["to"]!), c => c!);
        var nodes = byPair.Keys.SelectMany(k => new[] { k.Item1, k.Item2 }).Distinct().Order(StringComparer.Ordinal).ToList();
        var grid = new Table { Title = new TableTitle("peer links (row measures column)") }.AddColumn("from \\ to");
        foreach (var n in nodes)
        {
            grid.AddColumn(Markup.Escape(n));
        }

        foreach (var from in nodes)
        {
            var row = new List<string> { Markup.Escape(from) };
            foreach (var to in nodes)
            {
                row.Add(byPair.TryGetValue((from, to), out var c)
                    ? Markup.Escape(Status.LinkText.Cell((string?)c["state"], (string?)c["source"], (double?)c["rtt_ms"], (double?)c["loss"]))
                    : "-");
            }

            grid.AddRow(row.ToArray());
        }

        AnsiConsole.Write(grid);
    }

    public static async Task<int> MaintenanceAsync(AdminClient client, string service, bool on, string? message, string? until)
    {
        var path = $"api/services/{Uri.EscapeDataString(service)}/maintenance";
        var payload = new JsonObject { ["message"] = message, ["until"] = until }.ToJsonString();
        var (status, body) = on ? await client.SendAsync(HttpMethod.Post, path, payload) : await client.SendAsync(HttpMethod.Delete, path);
        return Report(status, body);
    }

    public static async Task<int> DrainAsync(AdminClient client, string service, string upstream, bool drain)
    {
        var path = $"api/services/{Uri.EscapeDataString(service)}/upstreams/{Uri.EscapeDataString(upstream)}/drain";
        var (status, body) = await client.SendAsync(drain ? HttpMethod.Post : HttpMethod.Delete, path);
        return Report(status, body);
    }

    private static int Report(int status, string body)
    {
        string text;
        try
        {
            var node = JsonNode.Parse(body);
            text = (string?)node?["result"] ?? (string?)node?["error"] ?? body;
        }
        catch (JsonException)
        {
            text = body;
        }

        if (status is >= 200 and < 300)
        {
            Console.WriteLine(text);
            return 0;
        }

        Console.Error.WriteLine($"Refused ({status}): {text}");
        return 1;
    }
}
