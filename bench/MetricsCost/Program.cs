using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Manypaths.Telemetry;

// What a metric costs a request, and what a scrape costs: Manypaths' own exporter (System.Diagnostics.Metrics
// instruments aggregated by Telemetry/PrometheusExporter) beside the served prometheus-net 8.2.1, natively
// (WithLabels(...).Inc()) and through its MeterAdapter (the same instruments, prometheus-net aggregating).
// Run by bench/metrics-cost.sh, which writes the metrics-cost section of docs/BENCHMARKS.md.
BenchmarkSwitcher.FromAssembly(typeof(MetricsCost.RecordOne).Assembly).Run(args);

namespace MetricsCost
{

    /// <summary>One counter increment with three labels (service, upstream, result), as every attempt records.</summary>
    [MemoryDiagnoser]
    public class RecordOne
{
        private ManypathsMetrics _ours = null!;
        private PrometheusExporter _exporter = null!;
        private Prometheus.Counter _native = null!;
        private Prometheus.Counter.Child _bound = null!;
        private Meter _adapted = null!;
        private Counter<long> _adaptedCounter = null!;
        private IDisposable _adapter = null!;

        [GlobalSetup]
        public void Setup()
        {
            _ours = new ManypathsMetrics();
            _exporter = new PrometheusExporter(_ours.Meter);
            var registry = Prometheus.Metrics.NewCustomRegistry();
            _native = Prometheus.Metrics.WithCustomRegistry(registry).CreateCounter("manypaths_upstream_attempts_total", "Attempts", "service", "upstream", "result");
            _bound = _native.WithLabels("shop", "eu1", "response");
            _adapted = new Meter("MetricsCost.Adapted");
            _adaptedCounter = _adapted.CreateCounter<long>("manypaths_upstream_attempts");
            var adapterRegistry = Prometheus.Metrics.NewCustomRegistry();
            _adapter = Prometheus.MeterAdapter.StartListening(new Prometheus.MeterAdapterOptions
            {
                Registry = adapterRegistry,
                InstrumentFilterPredicate = i => ReferenceEquals(i.Meter, _adapted),
            });
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            _adapter.Dispose();
            _adapted.Dispose();
            _exporter.Dispose();
            _ours.Dispose();
        }

        [Benchmark(Baseline = true, Description = "manypaths: Counter<long>.Add, 3 tags")]
        public void Ours() => _ours.Attempts.Add(1,
            new KeyValuePair<string, object?>("service", "shop"),
            new KeyValuePair<string, object?>("upstream", "eu1"),
            new KeyValuePair<string, object?>("result", "response"));

        [Benchmark(Description = "prometheus-net: WithLabels(3).Inc()")]
        public void PrometheusNet() => _native.WithLabels("shop", "eu1", "response").Inc();

        [Benchmark(Description = "prometheus-net: a bound child's Inc()")]
        public void PrometheusNetBound() => _bound.Inc();

        [Benchmark(Description = "prometheus-net MeterAdapter: Counter<long>.Add, 3 tags")]
        public void PrometheusNetMeterAdapter() => _adaptedCounter.Add(1,
            new KeyValuePair<string, object?>("service", "shop"),
            new KeyValuePair<string, object?>("upstream", "eu1"),
            new KeyValuePair<string, object?>("result", "response"));
}

    /// <summary>A scrape of a node with 10 services x 3 upstreams x 4 results (120 counter series) and a histogram.</summary>
    [MemoryDiagnoser]
    public class Scrape
{
        private static readonly string[] Results = ["response", "cancelled", "timeout", "never_sent"];
        private ManypathsMetrics _ours = null!;
        private PrometheusExporter _exporter = null!;
        private Prometheus.CollectorRegistry _registry = null!;

        [GlobalSetup]
        public void Setup()
        {
            _ours = new ManypathsMetrics();
            _exporter = new PrometheusExporter(_ours.Meter);
            _registry = Prometheus.Metrics.NewCustomRegistry();
            var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
            var counter = factory.CreateCounter("manypaths_upstream_attempts_total", "Attempts", "service", "upstream", "result");
            var histogram = factory.CreateHistogram("manypaths_probe_duration_seconds", "Probe latency", new Prometheus.HistogramConfiguration
            {
                LabelNames = ["service", "upstream"],
                Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            });
            for (var s = 0; s < 10; s++)
            {
                for (var u = 0; u < 3; u++)
                {
                    foreach (var r in Results)
                    {
                        _ours.Attempts.Add(s + u + 1, new("service", $"svc{s}"), new("upstream", $"up{u}"), new("result", r));
                        counter.WithLabels($"svc{s}", $"up{u}", r).Inc(s + u + 1);
                    }

                    _ours.ProbeLatency.Record(0.002, new KeyValuePair<string, object?>("service", $"svc{s}"), new KeyValuePair<string, object?>("upstream", $"up{u}"));
                    histogram.WithLabels($"svc{s}", $"up{u}").Observe(0.002);
                }
            }
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            _exporter.Dispose();
            _ours.Dispose();
        }

        [Benchmark(Baseline = true, Description = "manypaths: Render()")]
        public int Ours() => _exporter.Render().Length;

        [Benchmark(Description = "prometheus-net: CollectAndExportAsTextAsync")]
        public async Task<long> PrometheusNet()
        {
            using var stream = new MemoryStream();
            await _registry.CollectAndExportAsTextAsync(stream);
            return stream.Length;
        }
}
}
