using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Manypaths.Cli;

/// <summary>`status`, `maintenance on|off`, `drain|undrain`: calls to a running node's admin API.</summary>
internal static class AdminCommands
{
    public static async Task<int> DnsQueryAsync(AdminClient client, string name, string type, string? from, bool json)
    {
        var path = $"api/dns/query?name={Uri.EscapeDataString(name)}&type={Uri.EscapeDataString(type)}" + (from is null ? "" : $"&client={Uri.EscapeDataString(from)}");
        var (status, body) = await client.SendAsync(HttpMethod.Get, path);
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

        var r = JsonNode.Parse(body)!;
        Console.WriteLine($"{r["name"]} {r["type"]} on node {r["node"]}: {((string?)r["status"])?.ToUpperInvariant()}");
        foreach (var a in r["answers"]!.AsArray())
        {
            Console.WriteLine($"  {a}");
        }

        Console.WriteLine($"why: {r["why"]}");
        foreach (var e in r["endpoints"]!.AsArray())
        {
            var views = string.Join(", ", e!["views"]!.AsArray().Select(v => $"{v!["node"]} {((bool?)v["healthy"] == true ? "up" : "down")}"));
            Console.WriteLine(FormattableString.Invariant($"  {e["upstream"]} {e["address"]} (tier {e["tier"]}, region {(string?)e["region"] ?? "-"}): {((bool?)e["healthy_by_quorum"] == true ? "healthy" : "not healthy")} by a {(double?)r["quorum"] * 100:0}% quorum [{(views.Length == 0 ? "no node heard" : views)}]"));
        }

        return 0;
    }

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
        var services = report["services"]!.AsArray();
        var tcp = services.Any(s => (string?)s!["mode"] == "tcp");
        var table = new Table().AddColumns("service", "state", "upstream", "region", "tier", "upstream state", "latency");
        if (tcp)
        {
            table.AddColumns("role", "lag", "conns");
        }

        table.AddColumn("why");
        foreach (var s in services)
        {
            foreach (var u in s!["upstreams"]!.AsArray())
            {
                var drained = (bool?)u!["drained"] == true ? " (drained)" : "";
                var cells = new List<string>
                {
                    Markup.Escape((string?)s["name"] ?? ""), Markup.Escape((string?)s["state"] ?? ""), Markup.Escape(((string?)u["name"] ?? "") + drained),
                    Markup.Escape((string?)u["region"] ?? "-"), u["tier"]?.ToString() ?? "", Markup.Escape((string?)u["state"] ?? ""),
                    u["latency_ms"] is { } l ? $"{(double)l:0.0} ms" : "-",
                };
                if (tcp)
                {
                    cells.Add(Markup.Escape((string?)u["role"] ?? "-"));
                    cells.Add(u["lag_bytes"] is { } lag ? Markup.Escape(Health.Roles.RoleBoard.Format((long)lag)) : "-");
                    cells.Add(u["connections"]?.ToString() ?? "-");
                }

                cells.Add(Markup.Escape((string?)u["reason"] ?? ""));
                table.AddRow(cells.ToArray());
            }
        }

        AnsiConsole.Write(table);
        WriteNotices(report);
        WriteLinkMatrix(report["link_matrix"]?.AsArray());
        return 0;
    }

    /// <summary>What the table cannot show: maintenance messages and end times, a draining node, a failed reload.</summary>
    private static void WriteNotices(JsonNode report)
    {
        if ((bool?)report["draining"] == true)
        {
            AnsiConsole.MarkupLine("[yellow]This node is shutting down (draining): it finishes what it has and takes nothing new.[/]");
        }

        foreach (var s in report["services"]!.AsArray())
        {
            if ((string?)s?["split_brain"] is { } split)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape($"{(string?)s!["name"]}: two primaries: {split}")}[/]");
            }

            if (s?["maintenance"] is not JsonObject m)
            {
                continue;
            }

            var until = (string?)m["until"] is { } u ? $"until {u}" : "until switched off";
            var message = (string?)m["message"] is { } text ? $": \"{text}\"" : "";
            AnsiConsole.MarkupLine(Markup.Escape($"maintenance on {(string?)s["name"]}{message} ({until}; since {(string?)m["since"]})"));
        }

        if ((string?)report["config"]?["last_reload_error"] is { } error)
        {
            AnsiConsole.MarkupLine($"[red]The last config reload failed; generation {report["config"]?["generation"]} is still live:[/]");
            AnsiConsole.WriteLine(error);
        }

        if ((string?)report["config"]?["pending_restart"] is { } pending)
        {
            AnsiConsole.MarkupLine(Markup.Escape(pending));
        }
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

    public static async Task<int> IncidentNoteAsync(AdminClient client, string id, string text)
    {
        var (status, body) = await client.SendAsync(HttpMethod.Post, $"api/incidents/{Uri.EscapeDataString(id)}/notes", new JsonObject { ["text"] = text }.ToJsonString());
        var node = TryParse(body);
        if (status is >= 200 and < 300)
        {
            Console.WriteLine((string?)node?["result"] ?? body);
            return 0;
        }

        Console.Error.WriteLine($"Refused ({status}): {(string?)node?["error"] ?? body}");
        return 1;
    }

    public static async Task<int> IncidentsAsync(AdminClient client)
    {
        var (status, body) = await client.SendAsync(HttpMethod.Get, "api/incidents");
        if (status != 200 || TryParse(body)?["incidents"] is not JsonArray incidents)
        {
            Console.Error.WriteLine($"Failed ({status}): {body}");
            return 1;
        }

        if (incidents.Count == 0)
        {
            Console.WriteLine("No incidents.");
        }

        foreach (var i in incidents)
        {
            var end = (string?)i?["end"];
            Console.WriteLine($"{(end is null ? "OPEN  " : "closed")} {(string?)i?["id"]}  {(string?)i?["title"]}  since {(string?)i?["start"]}{(end is null ? "" : $" until {end}")}  nodes: {string.Join(",", (i?["nodes"] as JsonArray ?? []).Select(n => (string?)n))}");
            foreach (var u in i?["updates"] as JsonArray ?? [])
            {
                Console.WriteLine($"         {(string?)u?["at"]}: {(string?)u?["text"]}");
            }
        }

        return 0;
    }

    private static JsonNode? TryParse(string body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int Report(int status, string body)
    {
        JsonNode? node = null;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
        }

        if (status is >= 200 and < 300)
        {
            Console.WriteLine(node is null ? body : DescribeWrite(node));
            return 0;
        }

        Console.Error.WriteLine($"Refused ({status}): {(string?)node?["error"] ?? body}");
        return 1;
    }

    /// <summary>
    /// "maintenance on: service control, message "Upgrading", until 2026-12-02 05:00:00Z (in 30m)" and, on the
    /// next line, which nodes applied it, which have not confirmed yet and which are unreachable.
    /// </summary>
    internal static string DescribeWrite(JsonNode r)
    {
        var text = new System.Text.StringBuilder();
        text.Append((string?)r["result"]).Append(": service ").Append((string?)r["service"]);
        if ((string?)r["upstream"] is { } upstream)
        {
            text.Append(", upstream ").Append(upstream);
        }

        if ((string?)r["message"] is { } message)
        {
            text.Append(", message \"").Append(message).Append('"');
        }

        if (r["until"] is { } until && DateTimeOffset.TryParse((string?)until, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var end))
        {
            var left = end - TimeProvider.System.GetUtcNow();
            text.Append(", until ").Append(end.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
                .Append(left > TimeSpan.Zero ? $" (in {Mesh.PeerTransitions.Format(left)})" : " (already past)");
        }
        else if ((string?)r["result"] == "maintenance on")
        {
            text.Append(", until switched off");
        }

        var applied = Names(r["applied_on"]);
        var pending = Names(r["pending"]);
        var unreachable = Names(r["unreachable"]);
        text.AppendLine().Append("applied on ").Append(applied.Count == 0 ? "no node yet" : string.Join(", ", applied));
        if (pending.Count > 0)
        {
            text.Append("; not confirmed yet by ").Append(string.Join(", ", pending)).Append(" (their links are up: they should have it within a heartbeat)");
        }

        if (unreachable.Count > 0)
        {
            text.Append("; unreachable: ").Append(string.Join(", ", unreachable)).Append(" (each takes it from a peer when it rejoins)");
        }

        var superseded = Names(r["superseded"]);
        if (superseded.Count > 0)
        {
            text.Append("; superseded: ").Append(string.Join(", ", superseded)).Append(" already report a newer change of this switch, made elsewhere (see manypaths status)");
        }

        return text.ToString();
    }

    private static List<string> Names(JsonNode? list) => list?.AsArray().Select(n => (string?)n ?? "").ToList() ?? [];
}
