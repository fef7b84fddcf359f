using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Manypaths.Config;
using Manypaths.Health;
using Manypaths.Mesh;
using Manypaths.Node;
using Manypaths.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

// The probe cost of a cluster: every node of CONFIG runs in this one process (real UDP heartbeats, real HTTP
// probes to the upstreams, which live in another process), so this process's CPU is the nodes' CPU only.
// Waits until every node sees every upstream up and every peer link up, warms up, then measures for SECONDS:
// probes/s, heartbeats/s and bytes/s (from the nodes' own counters), process CPU and CPU per node.
// With UPSTREAM_PID, the upstream process's CPU over the same window is reported too.
// Prints one line of JSON.
//   dotnet ProbeCost.dll CONFIG SECONDS WARMUP_SECONDS [UPSTREAM_PID]
if (args.Length is < 3 or > 4)
{
    await Console.Error.WriteLineAsync("usage: ProbeCost CONFIG SECONDS WARMUP_SECONDS [UPSTREAM_PID]");
    return 2;
}

var loaded = ConfigLoader.LoadFile(args[0]);
if (!loaded.Ok)
{
    await Console.Error.WriteLineAsync(string.Join(Environment.NewLine, loaded.Errors));
    return 1;
}

var config = loaded.Config!;
var measure = TimeSpan.FromSeconds(double.Parse(args[1], CultureInfo.InvariantCulture));
var warmup = TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture));
int? upstreamPid = args.Length == 4 ? int.Parse(args[3], CultureInfo.InvariantCulture) : null;

var counters = new Dictionary<string, long>(StringComparer.Ordinal);
using var listener = new MeterListener();
listener.InstrumentPublished = (instrument, l) =>
{
    if (instrument.Meter.Name == ManypathsMetrics.MeterName && instrument.Name is "manypaths_probes" or "manypaths_mesh_heartbeats_sent" or "manypaths_mesh_heartbeat_bytes_sent")
    {
        l.EnableMeasurementEvents(instrument);
    }
};
listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
{
    var key = instrument.Name;
    foreach (var tag in tags)
    {
        if (tag.Key == "kind")
        {
            key += "_" + tag.Value;
        }
    }

    lock (counters)
    {
        counters[key] = counters.GetValueOrDefault(key) + value;
    }
});
listener.Start();

var hosts = new List<NodeHost>();
try
{
    foreach (var name in config.Nodes.Keys)
    {
        var host = new NodeHost(name, TimeProvider.System, NullLoggerFactory.Instance);
        await host.StartAsync(config, CancellationToken.None);
        hosts.Add(host);
    }

    var upstreams = hosts[0].Generation!.Services.Values.Sum(s => s.Upstreams.Length);
    var deadline = Stopwatch.StartNew();
    while (!hosts.All(Ready))
    {
        if (deadline.Elapsed > TimeSpan.FromSeconds(120))
        {
            await Console.Error.WriteLineAsync("not ready after 120 s: some node does not see every upstream or peer up");
            return 1;
        }

        await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System);
    }

    var readyAfter = deadline.Elapsed;
    await Task.Delay(warmup, TimeProvider.System);

    var self = Process.GetCurrentProcess();
    var (c0, cpu0, up0) = (Snapshot(), self.TotalProcessorTime, UpstreamCpu());
    var kernel0 = self.PrivilegedProcessorTime;
    var gc0 = GC.CollectionCount(0);
    var clock = Stopwatch.StartNew();
    await Task.Delay(measure, TimeProvider.System);
    var wall = clock.Elapsed.TotalSeconds;
    self.Refresh();
    var (c1, cpu1, up1) = (Snapshot(), self.TotalProcessorTime, UpstreamCpu());
    double Rate(string key) => (c1.GetValueOrDefault(key) - c0.GetValueOrDefault(key)) / wall;
    var cpuPct = (cpu1 - cpu0).TotalSeconds / wall * 100;
    var kernelPct = (self.PrivilegedProcessorTime - kernel0).TotalSeconds / wall * 100;
    var line = string.Create(CultureInfo.InvariantCulture,
        $"{{\"nodes\": {hosts.Count}, \"upstreams\": {upstreams}, \"health_interval_s\": {config.Services.Values.First().Health.Interval.TotalSeconds}, " +
        $"\"heartbeat_s\": {config.Mesh.Heartbeat.TotalSeconds}, \"reuse_connection\": {(config.Services.Values.First().Health.ReuseConnection ? "true" : "false")}, \"seconds\": {wall:0.0}, \"ready_after_s\": {readyAfter.TotalSeconds:0.0}, " +
        $"\"probes_per_s\": {Rate("manypaths_probes"):0.0}, \"pings_per_s\": {Rate("manypaths_mesh_heartbeats_sent_ping"):0.0}, " +
        $"\"pongs_per_s\": {Rate("manypaths_mesh_heartbeats_sent_pong"):0.0}, \"heartbeat_bytes_per_s\": {Rate("manypaths_mesh_heartbeat_bytes_sent"):0}, " +
        $"\"process_cpu_pct\": {cpuPct:0.00}, \"process_kernel_cpu_pct\": {kernelPct:0.00}, \"cpu_pct_per_node\": {cpuPct / hosts.Count:0.00}, " +
        $"\"upstream_cpu_pct\": {(up0 is { } a && up1 is { } b ? ((b - a) / wall * 100).ToString("0.00", CultureInfo.InvariantCulture) : "null")}, " +
        $"\"gen0_gcs_per_s\": {(GC.CollectionCount(0) - gc0) / wall:0.0}, \"working_set_mb\": {self.WorkingSet64 / 1048576.0:0}}}");
    Console.WriteLine(line);
    return 0;
}
finally
{
    foreach (var h in hosts)
    {
        await h.DisposeAsync();
    }
}

Dictionary<string, long> Snapshot()
{
    lock (counters)
    {
        return new Dictionary<string, long>(counters, StringComparer.Ordinal);
    }
}

bool Ready(NodeHost h) =>
    h.Generation!.Services.Values.All(s => s.Upstreams.All(u => u.Health.State == HealthState.Up))
    && (hosts.Count == 1 || (h.Mesh is { } mesh && mesh.Peers.All(p => mesh.Link(p).State == LinkState.Up)));

double? UpstreamCpu()
{
    if (upstreamPid is not { } pid)
    {
        return null;
    }

    // utime + stime (fields 14 and 15 of /proc/PID/stat, after the parenthesised command name), in clock ticks.
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}
