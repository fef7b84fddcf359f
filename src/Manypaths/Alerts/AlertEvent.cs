namespace Manypaths.Alerts;

/// <summary>
/// One announced change. <paramref name="Key"/> names the event (cluster, kind, subject, new state), not when it was
/// seen, so every node that sends it (both sides of a partition) sends the same key: a receiver keeps the last key per
/// subject and drops a repeat.
/// </summary>
internal sealed record AlertEvent(string Kind, string Subject, string From, string To, DateTimeOffset At, string Key)
{
    public static string KeyOf(string cluster, string kind, string subject, string state) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{cluster}\n{kind}\n{subject}\n{state}")))[..16];

    /// <summary>The event in words, as chat and logs show it.</summary>
    public string Text => Kind switch
    {
        "service" => To == "down" ? $"Service {Subject} is DOWN" : $"Service {Subject} is up again",
        "failover" => To == "primary" ? $"Service {Subject} is back on its primary tier" : $"Service {Subject} failed over to {To}",
        "region" => To == "local" ? $"Service {Subject} is served from this node's region again" : $"Service {Subject} failed over to region {To}",
        "upstream" => To == "down" ? $"Upstream {Subject} is down (by quorum of the nodes)" : $"Upstream {Subject} is up again (by quorum)",
        "link" => $"Peer link {Subject.Replace(">", " -> ", StringComparison.Ordinal)} is {To}",
        "node" => To == "unreachable" ? $"Node {Subject} is unreachable" : $"Node {Subject} is reachable again",
        "maintenance" => To == "on" ? $"Maintenance started on {Subject}" : $"Maintenance ended on {Subject}",
        _ => $"{Kind} {Subject}: {From} -> {To}",
    };
}
