using Manypaths.History;

namespace Manypaths.Tests.History;

/// <summary>The SQLite history on a real file: minutes and their hourly roll-up, transitions, pruning.</summary>
public sealed class HistoryStoreTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("manypaths-history-");
    private static readonly DateTimeOffset Hour = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    public void Dispose() => _dir.Delete(recursive: true);

    private static MinuteRow Row(int minute, long requests, double p50, double p99, int down = 0) =>
        new("web", "*", Hour.AddMinutes(minute), requests, 1, p50, p99, requests - 2, 1, 1, 60 - down, down, 0);

    [Fact]
    public void Minutes_AreKeptAsWritten_AndRollUpIntoTheirHour()
    {
        using var store = new HistoryStore(Path.Combine(_dir.FullName, "h.db"));
        store.Write([new Transition(Hour.AddMinutes(1), "service", "web", "up", "down")], [Row(0, 100, 10, 50), Row(1, 300, 20, 80, down: 30)]);

        var minutes = store.Rows("web", Hour, Hour.AddHours(1), hours: false);
        Assert.Equal([Row(0, 100, 10, 50), Row(1, 300, 20, 80, down: 30)], minutes);

        var hour = Assert.Single(store.Rows("web", Hour, Hour.AddHours(1), hours: true));
        Assert.Equal((400L, 2L, 80.0, 90, 30), (hour.Requests, hour.Failures, hour.P99Ms!.Value, hour.UpSeconds, hour.DownSeconds));
        Assert.Equal(17.5, hour.P50Ms!.Value, 3); // weighted by requests: (10*100 + 20*300) / 400

        var t = Assert.Single(store.Transitions(Hour, Hour.AddHours(1)));
        Assert.Equal(("service", "web", "up", "down"), (t.Kind, t.Subject, t.From, t.To));
        Assert.Equal("ok", store.IntegrityCheck());
    }

    [Fact]
    public void Prune_DropsMinutesAfter48Hours_AndHoursAfterTheRetention()
    {
        using var store = new HistoryStore(Path.Combine(_dir.FullName, "h.db"));
        store.Write([], [Row(0, 10, 1, 2)]);
        store.Prune(Hour.AddHours(47), TimeSpan.FromDays(90));
        Assert.Single(store.Rows("web", Hour, Hour.AddHours(1), hours: false));
        store.Prune(Hour.AddHours(49), TimeSpan.FromDays(90));
        Assert.Empty(store.Rows("web", Hour, Hour.AddHours(1), hours: false));
        Assert.Single(store.Rows("web", Hour, Hour.AddHours(1), hours: true));
        store.Prune(Hour.AddDays(91), TimeSpan.FromDays(90));
        Assert.Empty(store.Rows("web", Hour, Hour.AddHours(1), hours: true));
    }

    [Fact]
    public void Incidents_AreStoredById_UpdatedWhenClosed_WithTheirNotes()
    {
        using var store = new HistoryStore(Path.Combine(_dir.FullName, "h.db"));
        var open = new Incident("down-web-1", "down", "web", "web is down", Hour, null, ["n1"], []);
        store.Write([], [], [open], [new IncidentNote("down-web-1", Hour.AddMinutes(1), "looking")]);
        Assert.Null(Assert.Single(store.Incidents(10)).End);
        store.Write([], [], [open with { End = Hour.AddMinutes(5) }, new Incident("relayed-web-2", "relayed", "web", "t", Hour.AddHours(1), null, ["n1"], [])], []);

        var all = store.Incidents(10);
        Assert.Equal(2, all.Count);
        Assert.Equal(Hour.AddMinutes(5), all.Single(i => i.Id == "down-web-1").End);
        Assert.Equal(["n1"], all.Single(i => i.Id == "down-web-1").Nodes);
        Assert.Equal("looking", Assert.Single(store.Notes(10)).Text);
    }

    /// <summary>
    /// A history file from before incidents had a state (the first release of the store): opening it must not turn
    /// history off with "no such column: state", and what it held is still there.
    /// </summary>
    [Fact]
    public void AFileFromAnEarlierVersion_IsUpgradedInPlace_AndKeepsItsHistory()
    {
        var path = Path.Combine(_dir.FullName, "old.db");
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            db.Open();
            using var c = db.CreateCommand();
            c.CommandText = """
                CREATE TABLE incidents (id TEXT PRIMARY KEY, kind TEXT NOT NULL, service TEXT NOT NULL, title TEXT NOT NULL,
                  started INTEGER NOT NULL, ended INTEGER, nodes TEXT NOT NULL);
                INSERT INTO incidents VALUES ('down-web-1', 'down', 'web', 'web is down', 1764676800000, NULL, 'n1');
                """;
            c.ExecuteNonQuery();
        }

        using var store = new HistoryStore(path);
        Assert.Equal("down-web-1", Assert.Single(store.Incidents(10)).Id);
        store.Write([], [], [new Incident("down-api-2", "down", "api", "api is down", Hour, null, ["n1"], [], State: "investigating")], []);
        Assert.Equal("investigating", store.Incidents(10).Single(i => i.Id == "down-api-2").State);
        Assert.Equal("ok", store.IntegrityCheck());
    }

    [Fact]
    public void ARestoredOpenIncident_StaysOpenOnlyWhileItsConditionHolds()
    {
        var book = new IncidentBook("n1");
        var stillDown = new Incident("down-web-1", "down", "web", "web is down", Hour, null, ["n1"], []);
        var over = new Incident("relayed-api-1", "relayed", "api", "api relayed", Hour, null, ["n1"], []);
        var closed = new Incident("down-db-1", "down", "db", "db is down", Hour.AddMinutes(-30), Hour.AddMinutes(-20), ["n1"], []);
        var now = Hour.AddMinutes(10);

        var closedNow = book.Restore([stillDown, over, closed], [new IncidentNote("down-db-1", Hour, "fixed")], i => i.Service == "web", now);

        Assert.Equal(("relayed-api-1", now), (Assert.Single(closedNow).Id, closedNow[0].End!.Value));
        var share = book.Share();
        Assert.Null(share.Incidents.Single(i => i.Id == "down-web-1").End); // still down: the same incident goes on
        Assert.Equal(3, share.Incidents.Count);
        Assert.Equal("fixed", Assert.Single(share.Notes).Text);

        // It closes on the transition back, as if the node had never restarted.
        var end = book.Apply(new Transition(now.AddMinutes(1), "service", "web", "down", "up"));
        Assert.Equal(("down-web-1", now.AddMinutes(1)), (Assert.Single(end).Id, end[0].End!.Value));
    }
}
