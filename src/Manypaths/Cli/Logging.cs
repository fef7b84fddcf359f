using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Manypaths.Cli;

internal static class Logging
{
    public static ILoggerFactory Create(LogLevel level) => level == LogLevel.None ? LoggerFactory.Create(_ => { }) : LoggerFactory.Create(b => Filter(b, level)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        }));

    /// <summary>What a node logs at <paramref name="level"/>: ours from that level, the frameworks' only when it matters.</summary>
    public static ILoggingBuilder Filter(ILoggingBuilder b, LogLevel level) => b
        .SetMinimumLevel(level)
        .AddFilter("Microsoft", LogLevel.Warning)
        // YARP logs two Information lines per proxied request (at that rate console logging costs a third of the
        // throughput) and a warning with a stack trace per failed forward; ours say the same in one line, with the
        // service, the upstream and the path, so only YARP's errors come through.
        .AddFilter("Yarp", LogLevel.Error);
}
