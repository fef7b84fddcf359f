namespace Manypaths.Tests.Support;

/// <summary>
/// Tests that start several processes (network namespaces, the demo): they run alone, after the parallel ones,
/// so they neither starve nor are starved by the timing-sensitive tests on a 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Heavy
{
    public const string Name = "heavy";
}
