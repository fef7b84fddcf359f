namespace Manypaths.Service;

/// <summary>
/// Exact conversion between spans and a <see cref="TimeProvider"/>'s timestamp ticks (its own frequency), so code
/// in virtual time lands on the very tick it asked for.
/// </summary>
internal static class Timestamps
{
    public static long Ticks(TimeProvider time, TimeSpan span) => (long)((Int128)span.Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond);

    public static TimeSpan Span(TimeProvider time, long ticks) => TimeSpan.FromTicks((long)((Int128)ticks * TimeSpan.TicksPerSecond / time.TimestampFrequency));
}
