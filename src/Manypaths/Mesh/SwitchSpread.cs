namespace Manypaths.Mesh;

/// <summary>Where an operator's switch stands across the cluster, as told to the CLI that set it.</summary>
internal sealed record SwitchSpread(IReadOnlyList<string> AppliedOn, IReadOnlyList<string> Pending, IReadOnlyList<string> Unreachable)
{
    /// <summary>
    /// Waits until every peer whose link is up reports <paramref name="entry"/> in its heartbeats (the switch goes
    /// out at once and comes back in their next state datagram), or until <paramref name="timeout"/>. Peers whose
    /// link is down are not waited for: they take the switch from any peer when they rejoin.
    /// </summary>
    public static async Task<SwitchSpread> WaitAsync(string self, MeshNode? mesh, Maintenance.SwitchEntry entry, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (mesh is null)
        {
            return new SwitchSpread([self], [], []);
        }

        var started = time.GetTimestamp();
        while (true)
        {
            var applied = new List<string> { self };
            var pending = new List<string>();
            var unreachable = new List<string>();
            foreach (var peer in mesh.Peers.Order(StringComparer.Ordinal))
            {
                if (mesh.HasApplied(peer, entry))
                {
                    applied.Add(peer);
                }
                else if (mesh.Link(peer).State == LinkState.Up)
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
                return new SwitchSpread(applied, pending, unreachable);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }
    }
}
