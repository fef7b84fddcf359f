using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Manypaths.History;

/// <summary>
/// This node's history in SQLite: transitions, minutes (kept 48 h) and hours (kept for the retention), written in
/// batches by <see cref="HistoryWriter"/> only. WAL with synchronous=NORMAL: a committed batch survives kill -9
/// (only a machine crash can lose the last ones) and readers (the page, the API) never block the writer.
/// </summary>
internal sealed class HistoryStore : IDisposable
{
    public static readonly TimeSpan MinutesKept = TimeSpan.FromHours(48);
    private readonly SqliteConnection _db;
    private readonly string _connectionString;

    public HistoryStore(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        // A locked file (another process writing it) fails a batch after 2 s instead of the library's 30 s of retries:
        // the writer counts it and tries the next batch.
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 2 }.ToString();
        _db = new SqliteConnection(_connectionString);
        try
        {
            _db.Open();
            Create();
        }
        catch
        {
            _db.Dispose(); // a file that cannot be opened or set up leaves no connection behind
            throw;
        }
    }

    private void Create()
    {
        Execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA busy_timeout=2000;
            CREATE TABLE IF NOT EXISTS transitions (at INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS transitions_at ON transitions (at);
            CREATE TABLE IF NOT EXISTS minutes (service TEXT NOT NULL, upstream TEXT NOT NULL, start INTEGER NOT NULL, requests INTEGER NOT NULL, failures INTEGER NOT NULL,
              p50_ms REAL, p99_ms REAL, direct INTEGER NOT NULL, relayed INTEGER NOT NULL, backup INTEGER NOT NULL, up_s INTEGER NOT NULL, down_s INTEGER NOT NULL,
              maintenance_s INTEGER NOT NULL, PRIMARY KEY (service, upstream, start));
            CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, kind TEXT NOT NULL, service TEXT NOT NULL, title TEXT NOT NULL,
              started INTEGER NOT NULL, ended INTEGER, nodes TEXT NOT NULL, state TEXT);
            CREATE TABLE IF NOT EXISTS incident_notes (incident_id TEXT NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS hours (service TEXT NOT NULL, upstream TEXT NOT NULL, start INTEGER NOT NULL, requests INTEGER NOT NULL, failures INTEGER NOT NULL,
              p50_ms REAL, p99_ms REAL, direct INTEGER NOT NULL, relayed INTEGER NOT NULL, backup INTEGER NOT NULL, up_s INTEGER NOT NULL, down_s INTEGER NOT NULL,
              maintenance_s INTEGER NOT NULL, PRIMARY KEY (service, upstream, start));
            """);
        AddMissingColumns();
    }

    /// <summary>
    /// Columns added after a table was first created: a file written by an earlier version gets them (empty), so an
    /// upgrade keeps its history instead of turning history off ("no such column").
    /// </summary>
    private void AddMissingColumns()
    {
        foreach (var (table, column, type) in AddedColumns)
        {
            using var probe = _db.CreateCommand();
            probe.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $column";
            probe.Parameters.AddWithValue("$column", column);
            if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            {
                Execute($"ALTER TABLE {table} ADD COLUMN {column} {type}");
            }
        }
    }

    /// <summary>Every column added to a table after its first version (constants: they are spliced into SQL).</summary>
    private static readonly (string Table, string Column, string Type)[] AddedColumns =
    [
        ("incidents", "state", "TEXT"),
    ];

    public string Path { get; }

    /// <summary>One batch, in one transaction: transitions, minutes, and each minute added into its hour.</summary>
    public void Write(IReadOnlyList<Transition> transitions, IReadOnlyList<MinuteRow> minutes) => Write(transitions, minutes, [], []);

    /// <summary>One batch, in one transaction: transitions, minutes (each added into its hour), incidents as they are now, notes.</summary>
    public void Write(IReadOnlyList<Transition> transitions, IReadOnlyList<MinuteRow> minutes, IReadOnlyList<Incident> incidents, IReadOnlyList<IncidentNote> notes)
    {
        using var tx = _db.BeginTransaction();
        foreach (var i in incidents)
        {
            using var c = Command("INSERT INTO incidents VALUES ($id, $kind, $service, $title, $start, $end, $nodes, $state) ON CONFLICT (id) DO UPDATE SET ended = excluded.ended, nodes = excluded.nodes", tx);
            c.Parameters.AddWithValue("$id", i.Id);
            c.Parameters.AddWithValue("$kind", i.Kind);
            c.Parameters.AddWithValue("$service", i.Service);
            c.Parameters.AddWithValue("$title", i.Title);
            c.Parameters.AddWithValue("$start", i.Start.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$end", i.End is { } end ? end.ToUnixTimeMilliseconds() : DBNull.Value);
            c.Parameters.AddWithValue("$nodes", string.Join(",", i.Nodes));
            c.Parameters.AddWithValue("$state", (object?)i.State ?? DBNull.Value);
            c.ExecuteNonQuery();
        }

        foreach (var n in notes)
        {
            using var c = Command("INSERT INTO incident_notes VALUES ($id, $at, $text)", tx);
            c.Parameters.AddWithValue("$id", n.IncidentId);
            c.Parameters.AddWithValue("$at", n.At.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$text", n.Text);
            c.ExecuteNonQuery();
        }

        foreach (var t in transitions)
        {
            using var c = Command("INSERT INTO transitions VALUES ($at, $kind, $subject, $from, $to)", tx);
            c.Parameters.AddWithValue("$at", t.At.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$kind", t.Kind);
            c.Parameters.AddWithValue("$subject", t.Subject);
            c.Parameters.AddWithValue("$from", t.From);
            c.Parameters.AddWithValue("$to", t.To);
            c.ExecuteNonQuery();
        }

        foreach (var m in minutes)
        {
            Upsert("minutes", m, m.Start, tx);
            Upsert("hours", m, new DateTimeOffset(m.Start.Year, m.Start.Month, m.Start.Day, m.Start.Hour, 0, 0, TimeSpan.Zero), tx);
        }

        tx.Commit();
    }

    /// <summary>
    /// Adds a row into its table: counts add up; p50 becomes the request-weighted mean of the parts' p50s and p99 the
    /// highest part's p99 (an hour's p99 is never better than its worst minute).
    /// </summary>
    private void Upsert(string table, MinuteRow m, DateTimeOffset start, SqliteTransaction tx)
    {
        using var c = Command($"""
            INSERT INTO {table} VALUES ($service, $upstream, $start, $requests, $failures, $p50, $p99, $direct, $relayed, $backup, $up, $down, $maintenance)
            ON CONFLICT (service, upstream, start) DO UPDATE SET
              p50_ms = CASE WHEN excluded.p50_ms IS NULL THEN p50_ms WHEN p50_ms IS NULL THEN excluded.p50_ms
                            ELSE (p50_ms * requests + excluded.p50_ms * excluded.requests) / MAX(1, requests + excluded.requests) END,
              p99_ms = MAX(COALESCE(p99_ms, excluded.p99_ms), COALESCE(excluded.p99_ms, p99_ms)),
              requests = requests + excluded.requests, failures = failures + excluded.failures,
              direct = direct + excluded.direct, relayed = relayed + excluded.relayed, backup = backup + excluded.backup,
              up_s = up_s + excluded.up_s, down_s = down_s + excluded.down_s, maintenance_s = maintenance_s + excluded.maintenance_s
            """, tx);
        c.Parameters.AddWithValue("$service", m.Service);
        c.Parameters.AddWithValue("$upstream", m.Upstream);
        c.Parameters.AddWithValue("$start", start.ToUnixTimeMilliseconds());
        c.Parameters.AddWithValue("$requests", m.Requests);
        c.Parameters.AddWithValue("$failures", m.Failures);
        c.Parameters.AddWithValue("$p50", (object?)m.P50Ms ?? DBNull.Value);
        c.Parameters.AddWithValue("$p99", (object?)m.P99Ms ?? DBNull.Value);
        c.Parameters.AddWithValue("$direct", m.Direct);
        c.Parameters.AddWithValue("$relayed", m.Relayed);
        c.Parameters.AddWithValue("$backup", m.Backup);
        c.Parameters.AddWithValue("$up", m.UpSeconds);
        c.Parameters.AddWithValue("$down", m.DownSeconds);
        c.Parameters.AddWithValue("$maintenance", m.MaintenanceSeconds);
        c.ExecuteNonQuery();
    }

    /// <summary>Drops minutes older than 48 h and hours and transitions older than <paramref name="retention"/>.</summary>
    public void Prune(DateTimeOffset now, TimeSpan retention)
    {
        using var tx = _db.BeginTransaction();
        Delete("minutes", "start", now - MinutesKept, tx);
        Delete("hours", "start", now - retention, tx);
        Delete("transitions", "at", now - retention, tx);
        tx.Commit();
    }

    private void Delete(string table, string column, DateTimeOffset before, SqliteTransaction tx)
    {
        using var c = Command($"DELETE FROM {table} WHERE {column} < $before", tx);
        c.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        c.ExecuteNonQuery();
    }

    /// <summary>Rows of one service (its "*" row, or every upstream too) from minutes (for spans up to 48 h) or hours.</summary>
    public List<MinuteRow> Rows(string service, DateTimeOffset from, DateTimeOffset to, bool hours, bool upstreams = false) =>
        Query($"SELECT * FROM {(hours ? "hours" : "minutes")} WHERE service = $service {(upstreams ? "" : "AND upstream = '*'")} AND start >= $from AND start < $to ORDER BY start, upstream",
            r => new MinuteRow(r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetInt64(3), r.GetInt64(4),
                r.IsDBNull(5) ? null : r.GetDouble(5), r.IsDBNull(6) ? null : r.GetDouble(6), r.GetInt64(7), r.GetInt64(8), r.GetInt64(9),
                r.GetInt32(10), r.GetInt32(11), r.GetInt32(12)),
            ("$service", service), ("$from", from.ToUnixTimeMilliseconds()), ("$to", to.ToUnixTimeMilliseconds()));

    /// <summary>This node's incidents as last written: the open ones and the newest <paramref name="closed"/> closed ones.</summary>
    public List<Incident> Incidents(int closed) =>
        Query("SELECT id, kind, service, title, started, ended, nodes, state FROM incidents WHERE ended IS NULL UNION ALL SELECT * FROM (SELECT id, kind, service, title, started, ended, nodes, state FROM incidents WHERE ended IS NOT NULL ORDER BY ended DESC LIMIT $closed)",
            r => new Incident(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)),
                r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), r.GetString(6).Split(',', StringSplitOptions.RemoveEmptyEntries), [],
                r.IsDBNull(7) ? null : r.GetString(7)),
            ("$closed", closed));

    /// <summary>The newest <paramref name="count"/> operators' notes this node took.</summary>
    public List<IncidentNote> Notes(int count) =>
        Query("SELECT incident_id, at, text FROM (SELECT rowid, * FROM incident_notes ORDER BY rowid DESC LIMIT $count) ORDER BY rowid",
            r => new IncidentNote(r.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetString(2)),
            ("$count", count));

    public List<Transition> Transitions(DateTimeOffset from, DateTimeOffset to) =>
        Query("SELECT at, kind, subject, from_state, to_state FROM transitions WHERE at >= $from AND at < $to ORDER BY at",
            r => new Transition(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4)),
            ("$from", from.ToUnixTimeMilliseconds()), ("$to", to.ToUnixTimeMilliseconds()));

    /// <summary>One read on a connection of its own: every row of <paramref name="sql"/>, each made by <paramref name="row"/>.</summary>
    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> row, params (string Name, object Value)[] parameters)
    {
        using var reader = OpenReader();
        using var c = reader.CreateCommand();
        c.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            c.Parameters.AddWithValue(name, value);
        }

        using var r = c.ExecuteReader();
        var list = new List<T>();
        while (r.Read())
        {
            list.Add(row(r));
        }

        return list;
    }

    /// <summary>A connection of its own for a reader (the API on request threads): WAL lets it read beside the writer.</summary>
    private SqliteConnection OpenReader()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private SqliteCommand Command(string sql, SqliteTransaction tx)
    {
        var c = _db.CreateCommand();
        c.CommandText = sql;
        c.Transaction = tx;
        return c;
    }

    private void Execute(string sql)
    {
        using var c = _db.CreateCommand();
        c.CommandText = sql;
        c.ExecuteNonQuery();
    }

    /// <summary>"ok" when SQLite finds the file sound.</summary>
    public string IntegrityCheck()
    {
        using var c = _db.CreateCommand();
        c.CommandText = "PRAGMA integrity_check";
        return Convert.ToString(c.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
    }

    public void Dispose() => _db.Dispose();
}
