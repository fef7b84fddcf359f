namespace Manypaths.Mesh;

/// <summary>
/// Where an operator's switch stands across the cluster, as told to the CLI that set it: applied (a node reports
/// this very switch), pending (a reachable node has not reported it yet), superseded (a node reports a newer change
/// of the same switch, made elsewhere) or unreachable (not heard lately: it takes the switch from any peer when it
/// rejoins).
/// </summary>
internal sealed record SwitchSpread(IReadOnlyList<string> AppliedOn, IReadOnlyList<string> Pending, IReadOnlyList<string> Unreachable, IReadOnlyList<string> Superseded)
{
    /// <summary>
    /// Waits until every reachable peer has reported <paramref name="entry"/> (it goes out at once and comes back in
    /// their next state datagram), or until <paramref name="timeout"/>. A peer counts as reachable while heard within
    /// two dead_after periods, so a link that looks down for a moment on a busy machine is still waited for.
    /// </summary>
    public static async Task<SwitchSpread> WaitAsync(string self, MeshNode? mesh, Maintenance.SwitchEntry entry, TimeSpan deadAfter, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (mesh is null)
        {
            return new SwitchSpread([self], [], [], []);
        }

        var started = time.GetTimestamp();
        while (true)
        {
            var (applied, pending, unreachable, superseded) = (new List<string> { self }, new List<string>(), new List<string>(), new List<string>());
            var now = time.GetUtcNow();
            foreach (var peer in mesh.Peers.Order(StringComparer.Ordinal))
            {
                var theirs = mesh.ReportedSwitch(peer, entry);
                if (theirs is not null && theirs.Stamp == entry.Stamp && theirs.Origin == entry.Origin)
                {
                    applied.Add(peer);
                }
                else if (theirs is not null && theirs.NewerThan(entry))
                {
                    superseded.Add(peer);
                }
                else if (mesh.Link(peer).LastHeard is { } heard && now - heard <= 2 * deadAfter)
                {
                    pending.Add(peer);
                }
                else
                {
                    unreachable.Add(peer);
                }
            }

            if (pending.Count == 0 || time.GetElapsedTime(started) >= timeout)
            {
                applied.Sort(StringComparer.Ordinal);
                return new SwitchSpread(applied, pending, unreachable, superseded);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }
    }
}
