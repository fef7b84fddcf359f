using System.Net;
using System.Text.Json;
using Manypaths.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Manypaths.Tests.History;

/// <summary>
/// A locked history database (another process holds an exclusive transaction on the file) degrades history, never
/// traffic: every request is answered while the writer fails; the failure is counted and shown in the status; once
/// the lock is gone, history is written again.
/// </summary>
[Collection(Heavy.Name)]
public sealed class HistoryLockedTests
{
    [Fact]
    public async Task WhileTheDatabaseIsLocked_TrafficFlows_TheFailureShows_AndHistoryResumesAfter()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, port) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}",
            "health: { path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }");
        await using var node = await ProxyNode.StartAsync(yaml);
        var recorder = node.Host.Recorder!;
        await Eventually.TrueAsync(() => recorder.Sampled("upstream", "svc/a") == "up", "a sampled up");
        using var http = new HttpClient();

        await using (var locker = new SqliteConnection($"Data Source={recorder.Writer!.Store.Path};Pooling=False"))
        {
            await locker.OpenAsync();
            using (var begin = locker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                await begin.ExecuteNonQueryAsync();
            }

            a.HealthOk = false; // a transition to write, which cannot be written now
            await Eventually.TrueAsync(() => recorder.Writer.LastError is not null, "the writer reports the lock", TimeSpan.FromSeconds(15));
            for (var i = 0; i < 200; i++)
            {
                using var r = await http.GetAsync($"http://127.0.0.1:{port}/x");
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            }

            using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri(node.Admin, "api/status")));
            Assert.Contains("locked", status.RootElement.GetProperty("history").GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
            var metrics = await http.GetStringAsync(new Uri(node.Admin, "metrics"));
            Assert.Contains("manypaths_history_dropped", metrics, StringComparison.Ordinal);
            Assert.Contains("History is not being written", await http.GetStringAsync(node.Admin), StringComparison.Ordinal);
        }

        // The lock is gone: the next batch is written and the error clears.
        a.HealthOk = true;
        await Eventually.TrueAsync(() => recorder.Writer.LastError is null, "the writer writes again", TimeSpan.FromSeconds(15));
        await Eventually.TrueAsync(() => recorder.Writer.Store.Transitions(DateTimeOffset.UnixEpoch, TimeProvider.System.GetUtcNow().AddMinutes(1))
            .Any(t => t is { Kind: "upstream", Subject: "svc/a", To: "up" }), "the transition after the lock is stored");
    }
}
