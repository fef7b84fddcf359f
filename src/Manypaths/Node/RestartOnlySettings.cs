using Manypaths.Config;

namespace Manypaths.Node;

/// <summary>
/// The settings a reload cannot apply to a running node: the set of nodes and their mesh addresses, the mesh
/// settings and this node's admin address (they shape sockets opened at start), and where the history is kept
/// (the file is opened at start). A reload that changes them
/// applies everything else, says so in the log and in /api/status, and they wait for the next restart.
/// </summary>
internal static class RestartOnlySettings
{
    /// <returns>Null when nothing restart-only changed; otherwise a sentence naming what did.</returns>
    public static string? Changed(ManypathsConfig running, ManypathsConfig next, string node)
    {
        var changed = new List<string>();
        if (!Nodes(running).SequenceEqual(Nodes(next), StringComparer.Ordinal))
        {
            changed.Add("the nodes or their mesh addresses");
        }

        if (running.Mesh != next.Mesh)
        {
            changed.Add("the mesh settings");
        }

        if (running.NodeOrDefault(node).Admin != next.NodeOrDefault(node).Admin)
        {
            changed.Add($"node {node}'s admin address");
        }

        if ((running.Status.History, running.Status.DataDir, running.Status.Retention) != (next.Status.History, next.Status.DataDir, next.Status.Retention))
        {
            changed.Add("the history settings (status.history, data_dir, retention)");
        }

                return changed.Count == 0 ? null : $"Changed {string.Join(", ", changed)}: this takes a restart of node {node}; everything else was reloaded.";
    }

    private static IEnumerable<string> Nodes(ManypathsConfig c) =>
        c.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => $"{n.Name} {n.Mesh}");
}
