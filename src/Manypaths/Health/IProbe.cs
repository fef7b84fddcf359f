namespace Manypaths.Health;

/// <summary>What one active check of one upstream found: healthy or not, and in words why.</summary>
/// <param name="Definitive">The upstream itself answered that it is not fit (a replica asked for the primary): down at
/// once, without waiting for 'fall' more answers.</param>
internal readonly record struct ProbeResult(bool Ok, string Detail, bool Definitive = false);

/// <summary>
/// One kind of active check of one upstream: HTTP today (<see cref="HttpProbe"/>); a TCP connect and database role
/// checks plug in the same way. <see cref="ActiveProber"/> runs it on its schedule, with the timeout.
/// </summary>
internal interface IProbe
{
    /// <summary>Checks once; an exception counts as a failed check (the prober says why).</summary>
    Task<ProbeResult> ProbeAsync(CancellationToken cancellationToken);
}
