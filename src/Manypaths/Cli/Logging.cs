using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Manypaths.Cli;

internal static class Logging
{
    public static ILoggerFactory Create(LogLevel level) => level == LogLevel.None ? LoggerFactory.Create(_ => { }) : LoggerFactory.Create(b => b
        .SetMinimumLevel(level)
        .AddFilter("Microsoft", LogLevel.Warning)
        // YARP logs two Information lines per proxied request; at that rate console logging costs a third of the
        // throughput. Its warnings (failed forwards) still come through, and ours say the same with more context.
        .AddFilter("Yarp", LogLevel.Warning)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        }));
}
