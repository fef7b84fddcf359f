using System.CommandLine;
using Manypaths.Demo;
using Microsoft.Extensions.Logging;

namespace Manypaths.Cli;

/// <summary>The `manypaths` command tree (names fixed by the product contract).</summary>
internal static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Manypaths keeps services reachable across sites: failover proxy, relay mesh, health-aware DNS.");
        root.Subcommands.Add(Demo());
        root.Subcommands.Add(Run());
        root.Subcommands.Add(Check());
        root.Subcommands.Add(Status());
        root.Subcommands.Add(Maintenance());
        root.Subcommands.Add(Drain("drain", true));
        root.Subcommands.Add(Drain("undrain", false));
        root.Subcommands.Add(Dns());
        root.Subcommands.Add(Incident());
        return root;
    }

    private static Command Demo()
    {
        var duration = new Option<string?>("--duration") { Description = "Run unattended for this long (e.g. 20s), then print a JSON summary and exit." };
        var json = new Option<bool>("--json") { Description = "Print only the machine-readable summary." };
        var cmd = new Command("demo", "Start a local cluster on loopback with simulated upstreams, break a path and show traffic crossing over.") { duration, json };
        cmd.SetAction((r, ct) => DemoCommand.RunAsync(r.GetValue(duration), r.GetValue(json), ct));
        return cmd;
    }

    private static Command Run()
    {
        var config = ConfigOption(required: true);
        var node = new Option<string>("--node") { Description = "This node's name under 'nodes'.", Required = true };
        var level = new Option<LogLevel>("--log-level") { Description = "Trace, Debug, Information, Warning, Error.", DefaultValueFactory = _ => LogLevel.Information };
        var cmd = new Command("run", "Run one node until SIGTERM; reload on SIGHUP or when the config file changes.") { config, node, level };
        cmd.SetAction((r, _) => RunCommand.RunAsync(r.GetValue(config)!, r.GetValue(node)!, r.GetValue(level)));
        return cmd;
    }

    private static Command Check()
    {
        var config = ConfigOption(required: true);
        var node = new Option<string?>("--node") { Description = "Also check that this node's listen addresses are free." };
        var cmd = new Command("check", "Validate a config: every problem with file, line and column; exit 1 if any.") { config, node };
        cmd.SetAction(r => ConfigCheck.Print(r.GetValue(config)!, r.GetValue(node), Console.Out, Console.Error));
        return cmd;
    }

    private static Command Status()
    {
        var t = new AdminTarget();
        var json = new Option<bool>("--json") { Description = "Print the raw JSON of /api/status." };
        var cmd = new Command("status", "Show the cluster table from a node's admin API.") { json };
        t.AddTo(cmd);
        cmd.SetAction((r, _) => WithClient(t, r, c => AdminCommands.StatusAsync(c, r.GetValue(json))));
        return cmd;
    }

    private static Command Maintenance()
    {
        var cmd = new Command("maintenance", "Turn a service's sorry page on or off.");
        foreach (var on in new[] { true, false })
        {
            var t = new AdminTarget();
            var service = new Argument<string>("SERVICE");
            var message = new Option<string?>("--message") { Description = "Shown on the sorry page." };
            var until = new Option<string?>("--until") { Description = "ISO-8601 time or a duration (30m); maintenance ends by itself then." };
            var sub = new Command(on ? "on" : "off", on ? "Serve the sorry page for SERVICE." : "Serve SERVICE again.") { service };
            if (on)
            {
                sub.Options.Add(message);
                sub.Options.Add(until);
            }

            t.AddTo(sub);
            sub.SetAction((r, _) => WithClient(t, r, c => AdminCommands.MaintenanceAsync(c, r.GetValue(service)!, on, r.GetValue(message), r.GetValue(until))));
            cmd.Subcommands.Add(sub);
        }

        return cmd;
    }

    private static Command Drain(string name, bool drain)
    {
        var t = new AdminTarget();
        var service = new Argument<string>("SERVICE");
        var upstream = new Argument<string>("UPSTREAM");
        var cmd = new Command(name, drain ? "Stop sending new requests to one upstream." : "Send requests to a drained upstream again.") { service, upstream };
        t.AddTo(cmd);
        cmd.SetAction((r, _) => WithClient(t, r, c => AdminCommands.DrainAsync(c, r.GetValue(service)!, r.GetValue(upstream)!, drain)));
        return cmd;
    }

    private static Command Incident()
    {
        var cmd = new Command("incident", "The cluster's incidents: list them, or post an update to one (shown on every node's page).");
        var lt = new AdminTarget();
        var list = new Command("list", "Open incidents, then past ones, with their ids.");
        lt.AddTo(list);
        list.SetAction((r, _) => WithClient(lt, r, AdminCommands.IncidentsAsync));
        var nt = new AdminTarget();
        var id = new Argument<string>("ID");
        var text = new Argument<string>("TEXT");
        var note = new Command("note", "Post an operator's update to incident ID (needs the admin token).") { id, text };
        nt.AddTo(note);
        note.SetAction((r, _) => WithClient(nt, r, c => AdminCommands.IncidentNoteAsync(c, r.GetValue(id)!, r.GetValue(text)!)));
        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(note);
        return cmd;
    }

    private static Command Dns()
    {
        var t = new AdminTarget();
        var name = new Argument<string>("NAME");
        var type = new Option<string>("--type") { Description = "The record type (default A).", DefaultValueFactory = _ => "A" };
        var client = new Option<string?>("--client") { Description = "Answer as for a client at this address (the latency policy's region)." };
        var json = new Option<bool>("--json") { Description = "Print the raw JSON." };
        var query = new Command("query", "Explain a node's DNS answer: the policy, which endpoints are healthy on which nodes, and why this one.") { name, type, client, json };
        t.AddTo(query);
        query.SetAction((r, _) => WithClient(t, r, c => AdminCommands.DnsQueryAsync(c, r.GetValue(name)!, r.GetValue(type)!, r.GetValue(client), r.GetValue(json))));
        var cmd = new Command("dns", "The DNS zones a node answers for.");
        cmd.Subcommands.Add(query);
        return cmd;
    }

    private static Option<string> ConfigOption(bool required) =>
        new("--config", "-c") { Description = "The manypaths.yaml file.", Required = required };

    private static async Task<int> WithClient(AdminTarget t, ParseResult r, Func<AdminClient, Task<int>> action)
    {
        AdminClient client;
        try
        {
            client = AdminClient.Resolve(r.GetValue(t.Config), r.GetValue(t.Node), r.GetValue(t.Admin), r.GetValue(t.TokenFile));
        }
        catch (Exception e) when (e is ArgumentException or IOException or UriFormatException)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }

        using (client)
        {
            try
            {
                return await action(client);
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync($"Cannot reach the node's admin API: {e.Message}");
                return 1;
            }
        }
    }

    /// <summary>--config/--node or --admin/--token-file: how admin commands find a node.</summary>
    private sealed class AdminTarget
    {
        public Option<string?> Config { get; } = new("--config", "-c") { Description = "Config file (admin address and token come from it)." };
        public Option<string?> Node { get; } = new("--node") { Description = "Which node of the config to ask (default: the first)." };
        public Option<string?> Admin { get; } = new("--admin") { Description = "Admin API URL, instead of --config." };
        public Option<string?> TokenFile { get; } = new("--token-file") { Description = "File holding the admin token, with --admin." };

        public void AddTo(Command cmd)
        {
            cmd.Options.Add(Config);
            cmd.Options.Add(Node);
            cmd.Options.Add(Admin);
            cmd.Options.Add(TokenFile);
        }
    }
}
