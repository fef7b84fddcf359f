using System.Diagnostics;
using System.Text.RegularExpressions;
using Manypaths.History;
using Manypaths.Tests.Support;
using Xunit.Abstractions;

namespace Manypaths.Tests.History;

/// <summary>
/// kill -9 while the history is being written: a real `manypaths run` whose upstream flaps (a transition a few times a
/// second), killed by PID with SIGKILL; the file passes SQLite's integrity check and holds every transition the node
/// logged more than 1.5 s before the kill (the writer commits once a second).
/// </summary>
[Collection(Heavy.Name)]
public sealed partial class HistoryCrashTests(ITestOutputHelper output)
{
    [GeneratedRegex(@"Manypaths\.History\[7003\] service svc: (up|down) -> (up|down)")]
    private static partial Regex TransitionLine();

    [Fact]
    public async Task KilledWithSigkillWhileWriting_TheHistoryIsIntact_AndKeepsWhatWasCommitted()
    {
        await using var up = await TestUpstream.StartAsync("a");
        var dir = Directory.CreateTempSubdirectory("manypaths-crash-");
        try
        {
            var (admin, port) = (Demo.FreePort.Next(), Demo.FreePort.Next());
            var path = Path.Combine(dir.FullName, "manypaths.yaml");
            await File.WriteAllTextAsync(path, $"""
                cluster: {"{"} name: crash, shutdown_grace: 1s {"}"}
                nodes:
                  n1: {"{"} admin: http://127.0.0.1:{admin} {"}"}
                services:
                  svc:
                    listen: 127.0.0.1:{port}
                    upstreams: [ {"{"} name: a, url: {up.Url} {"}"} ]
                    health: {"{"} path: /healthz, interval: 250ms, timeout: 200ms, rise: 1, fall: 1 {"}"}
                status: {"{"} data_dir: state {"}"}
                """);
            var clock = Stopwatch.StartNew();
            var seen = new List<(TimeSpan At, int Logged)>();
            using (var node = NodeProcess.Start(path, "n1"))
            {
                await Eventually.TrueAsync(() => node.Logged("Node n1 started"), "the node started", TimeSpan.FromSeconds(20));

                // The flips answer 503 at once; the probe timeout leaves a busy machine room to answer "ok" in time.
                await Eventually.TrueAsync(() => node.Logged("upstream a is up"), "a is up", TimeSpan.FromSeconds(20));

                // Flap until 8 flips were logged as transitions, each flip once the last one was (the node samples once a
                // second; a flip before its first sample is no transition, so that one is simply flipped again).
                for (var flip = 0; flip < 20 && TransitionLine().Count(node.Output) < 8; flip++)
                {
                    var before = TransitionLine().Count(node.Output);
                    up.HealthOk = !up.HealthOk;
                    try
                    {
                        await Eventually.TrueAsync(() => TransitionLine().Count(node.Output) > before, $"flip {flip + 1} logged as a transition", TimeSpan.FromSeconds(3));
                    }
                    catch (TimeoutException)
                    {
                        // not sampled as a change (the very first flip can fall before the first sample): flip again
                    }

                    seen.Add((clock.Elapsed, TransitionLine().Count(node.Output)));
                }

                var killedAt = clock.Elapsed;
                Assert.False(node.HasExited);
                node.Dispose(); // SIGKILL, by PID
                var committed = seen.Where(s => s.At < killedAt - TimeSpan.FromSeconds(1.5)).Select(s => s.Logged).DefaultIfEmpty(0).Max();
                using var store = new HistoryStore(Path.Combine(dir.FullName, "state", "crash-n1.db"));
                var integrity = store.IntegrityCheck();
                var rows = store.Transitions(DateTimeOffset.UnixEpoch, TimeProvider.System.GetUtcNow().AddMinutes(1)).Count(t => t is { Kind: "service", Subject: "svc" });
                output.WriteLine($"[report] kill -9: integrity_check {integrity}; {rows} service transitions stored; {committed} logged at least 1.5 s before the kill; {TransitionLine().Count(node.Output)} logged in all");
                Assert.Equal("ok", integrity);
                Assert.True(committed >= 3, $"the flapping made transitions ({committed})");
                Assert.True(rows >= committed, $"{rows} rows stored, {committed} were committed before the kill");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
