using System.Runtime.CompilerServices;

namespace Manypaths.Tests.Support;

/// <summary>
/// The test process is not a node: the test platform keeps two thread-pool workers blocked for the whole run (its
/// message loop polls a socket, the xunit runner waits on a handle), which on a 2-core machine is the pool's whole
/// minimum. The pool then grows only by starvation injection, about a thread per half second, and every node in the
/// process stalls for that long. A real node's process has no such blocked workers; here the minimum is raised so
/// the in-process nodes see the pool a node would have.
/// </summary>
internal static class TestProcessSetup
{
    [ModuleInitializer]
    internal static void RaiseThreadPoolMinimum()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 4 * Environment.ProcessorCount + 2), io);
    }
}
