using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Manypaths.Telemetry;

/// <summary>
/// Aggregates one Meter's instruments with a MeterListener and writes them in the Prometheus text format.
/// Counter hits are allocation-free after a series is first seen. Measured against prometheus-net in
/// bench/metrics-cost.sh (docs/design/service-core.md, "Why not prometheus-net").
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();
    private readonly Lock _observeLock = new();
    private readonly Meter _meter;

    /// <summary>Listens to this one Meter instance: several nodes in one process (demo, tests) keep separate figures.</summary>
    public PrometheusExporter(Meter meter)
    {
        _meter = meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public string Render()
    {
        lock (_observeLock)
        {
            foreach (var s in _series.Values)
            {
                if (s.Observable)
                {
                    s.Stale = true;
                }
            }

            _listener.RecordObservableInstruments();
        }

        // Sorted by metric name, then labels: one array sort, no grouping (a scrape of 120 series was 372 KB).
        var live = _series.Values.Where(s => !s.Stale).ToArray();
        Array.Sort(live, static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Instrument.Name, b.Instrument.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.LabelText, b.LabelText);
        });
        var sb = new StringBuilder(live.Length * 96);
        Instrument? current = null;
        string name = "";
        foreach (var s in live)
        {
            if (!ReferenceEquals(s.Instrument, current))
            {
                current = s.Instrument;
                (name, var type) = NameAndType(current);
                sb.Append("# HELP ").Append(name).Append(' ').Append(Escape(current.Description ?? current.Name, help: true)).Append('\n');
                sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            }

            s.Write(sb, name);
        }

        return sb.ToString();
    }

    private static (string Name, string Type) NameAndType(Instrument instrument) => instrument switch
    {
        Counter<long> or Counter<int> or Counter<double> => (instrument.Name + "_total", "counter"),
        Histogram<double> or Histogram<long> => (instrument.Name, "histogram"),
        _ => (instrument.Name, "gauge"),
    };

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = new SeriesKey(instrument, Tag(tags, 0), Tag(tags, 1), Tag(tags, 2), Tag(tags, 3));
        if (!_series.TryGetValue(key, out var series))
        {
            series = _series.GetOrAdd(key, static (_, state) => new Series(state.instrument, state.labels), (instrument, labels: Labels(tags)));
        }

        series.Add(value);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, int i) => i < tags.Length ? tags[i].Value?.ToString() : null;

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var sb = new StringBuilder();
        foreach (var t in tags)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(t.Key).Append("=\"").Append(Escape(t.Value?.ToString() ?? "", help: false)).Append('"');
        }

        return sb.ToString();
    }

    private static string Escape(string s, bool help)
    {
        var r = s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return help ? r : r.Replace("\"", "\\\"", StringComparison.Ordinal);
    }

    public void Dispose() => _listener.Dispose();

    private readonly record struct SeriesKey(Instrument Instrument, string? A, string? B, string? C, string? D);

    private sealed class Series(Instrument instrument, string labels)
    {
        private readonly Lock _lock = new();
        private readonly long[] _bucketCounts = new long[Buckets.Length];
        private string[]? _bucketLabels;
        private double _value;
        private double _sum;
        private long _count;

        public Instrument Instrument { get; } = instrument;
        public string LabelText { get; } = labels;
        public bool Observable { get; } = instrument.IsObservable;
        public bool Stale { get; set; }

        private bool IsHistogram => Instrument is Histogram<double> or Histogram<long>;
        private bool IsCounter => Instrument is Counter<long> or Counter<int> or Counter<double>;

        public void Add(double v)
        {
            lock (_lock)
            {
                Stale = false;
                if (IsHistogram)
                {
                    _sum += v;
                    _count++;
                    for (var i = 0; i < Buckets.Length; i++)
                    {
                        if (v <= Buckets[i])
                        {
                            _bucketCounts[i]++;
                        }
                    }
                }
                else if (IsCounter)
                {
                    _value += v;
                }
                else
                {
                    _value = v;
                }
            }
        }

        public void Write(StringBuilder sb, string name)
        {
            lock (_lock)
            {
                if (!IsHistogram)
                {
                    Line(sb, name, "", LabelText, _value);
                    return;
                }

                _bucketLabels ??= [.. Buckets.Select(b => Join(LabelText, $"le=\"{Num(b)}\"")), Join(LabelText, "le=\"+Inf\"")];
                for (var i = 0; i < Buckets.Length; i++)
                {
                    Line(sb, name, "_bucket", _bucketLabels[i], _bucketCounts[i]);
                }

                Line(sb, name, "_bucket", _bucketLabels[^1], _count);
                Line(sb, name, "_sum", LabelText, _sum);
                Line(sb, name, "_count", LabelText, _count);
            }
        }

        private static string Join(string a, string b) => a.Length == 0 ? b : a + "," + b;

        private static void Line(StringBuilder sb, string name, string suffix, string labels, double value)
        {
            sb.Append(name).Append(suffix);
            if (labels.Length > 0)
            {
                sb.Append('{').Append(labels).Append('}');
            }

            sb.Append(' ').Append(CultureInfo.InvariantCulture, $"{value}").Append('\n');
        }

        /// <summary>The shortest text that reads back as the same double (0.0025, not G17's 0.0025000000000000001).</summary>
        private static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
    }
}
