using System.Diagnostics;
using System.Globalization;

// Open-loop load for latency under faults: starts one GET every 1/RATE s whatever the answers do (so a stall
// cannot hide later requests: no coordinated omission), times each from its scheduled start to its last body
// byte, and counts a non-200, an error or a timeout as a failure whose latency is the time it took to fail.
// Prints one line of JSON: count, ok, failed, statuses, p50/p90/p99/p999/max in ms (over every request).
// WARMUP requests go first and are not counted: up to 20 one at a time (a fresh .NET process is slow for its first
// requests), the rest open loop at RATE flowing straight into the measured run, so the system under test has the
// connections that rate needs when measuring starts (sequential warm-up at 250 ms round trips left a proxy with one
// warm upstream connection and a burst of new ones to open); "measuring" on stderr marks the start of the measured
// run. PATHLOAD_NEW_CONNECTIONS=1 sends
// every request on a new connection (Connection: close), as many short-lived clients do. PATHLOAD_TRACE=FILE writes
// one line per measured request (index, scheduled start in ms, latency in ms, status; 0 = error) to FILE.
//   dotnet PathLoad.dll URL RATE COUNT [TIMEOUT_SECONDS [WARMUP]]
if (args.Length is < 3 or > 5 || !Uri.TryCreate(args[0], UriKind.Absolute, out var url)
    || !double.TryParse(args[1], CultureInfo.InvariantCulture, out var rate) || rate <= 0
    || !int.TryParse(args[2], CultureInfo.InvariantCulture, out var count) || count <= 0)
{
    await Console.Error.WriteLineAsync("usage: PathLoad URL RATE COUNT [TIMEOUT_SECONDS [WARMUP]]   (for example http://127.0.0.1:8080/ 200 2000 5 300)");
    return 2;
}

var timeout = TimeSpan.FromSeconds(args.Length >= 4 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 5);
var warmup = args.Length == 5 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 0;
var newConnections = Environment.GetEnvironmentVariable("PATHLOAD_NEW_CONNECTIONS") == "1";
using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1024, ConnectTimeout = timeout };
using var client = new HttpClient(handler) { Timeout = timeout };
var sequential = Math.Min(warmup, 20);
for (var i = 0; i < sequential; i++)
{
    try
    {
        using var response = await client.GetAsync(url);
        await response.Content.ReadAsByteArrayAsync();
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
    {
    }
}

var latencies = new double[count];
var statuses = new int[count];
var clock = Stopwatch.StartNew();
var interval = TimeSpan.FromSeconds(1 / rate);
var running = new List<Task>(count);
var openWarmup = warmup - sequential;
var measuringFrom = interval * openWarmup;
for (var i = -openWarmup; i < count; i++)
{
    var due = measuringFrom + interval * i;
    var wait = due - clock.Elapsed;
    if (wait > TimeSpan.FromMilliseconds(1))
    {
        await Task.Delay(wait, TimeProvider.System);
    }

    if (i == 0)
    {
        await Console.Error.WriteLineAsync("measuring");
    }

    running.Add(i < 0 ? WarmAsync() : OneAsync(i, due));
}

await Task.WhenAll(running);
if (Environment.GetEnvironmentVariable("PATHLOAD_TRACE") is { Length: > 0 } tracePath)
{
    await File.WriteAllLinesAsync(tracePath, Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture,
        $"{i} {(interval * i).TotalMilliseconds:0.0} {latencies[i]:0.0} {statuses[i]}")));
}

var ok = statuses.Count(s => s == 200);
var sorted = latencies.Order().ToArray();
double Pct(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
var byStatus = statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"\"{(g.Key == 0 ? "error" : g.Key.ToString(CultureInfo.InvariantCulture))}\": {g.Count()}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"count\": {count}, \"ok\": {ok}, \"failed\": {count - ok}, \"statuses\": {{{string.Join(", ", byStatus)}}}, \"p50\": {Pct(0.5):0.0}, \"p90\": {Pct(0.9):0.0}, \"p99\": {Pct(0.99):0.0}, \"p999\": {Pct(0.999):0.0}, \"max\": {sorted[^1]:0.0}, \"seconds\": {(clock.Elapsed - measuringFrom).TotalSeconds:0.0}}}"));
return 0;

async Task WarmAsync()
{
    try
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = newConnections;
        using var response = await client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
    {
    }
}

async Task OneAsync(int i, TimeSpan due)
{
    try
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = newConnections;
        using var response = await client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        statuses[i] = (int)response.StatusCode;
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
    {
        statuses[i] = 0;
    }

    latencies[i] = (clock.Elapsed - due).TotalMilliseconds;
}
