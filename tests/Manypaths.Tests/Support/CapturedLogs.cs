using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Manypaths.Tests.Support;

/// <summary>One log entry a node wrote: what an operator would read in its log.</summary>
/// <param name="At">When it was written (Stopwatch timestamp), to line it up with what a test measured.</param>
internal sealed record LogEntry(LogLevel Level, string Category, string EventName, string Message, Exception? Exception, long At = 0);

/// <summary>
/// A logger factory that keeps in memory what a node run with --log-level Debug would print (the product's own
/// filters apply), for tests that assert what a node logs.
/// </summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public CapturedLogs() => Factory = LoggerFactory.Create(b => Manypaths.Cli.Logging.Filter(b, LogLevel.Debug).AddProvider(this));

    public ILoggerFactory Factory { get; }

    public IReadOnlyList<LogEntry> Entries => _entries.ToList();

    public bool Any(LogLevel level, string contains) =>
        _entries.Any(e => e.Level == level && e.Message.Contains(contains, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(logLevel, category, eventId.Name ?? "", formatter(state, exception), exception, System.Diagnostics.Stopwatch.GetTimestamp()));
    }
}
