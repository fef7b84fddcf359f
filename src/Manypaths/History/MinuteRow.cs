namespace Manypaths.History;

/// <summary>
/// One minute (or hour) of one service on one node: requests and failures, latency, the path mix, and how many
/// seconds the service was up, down or in maintenance. <paramref name="Upstream"/> is "*" for the service as a
/// whole (requests no upstream answered count there only).
/// </summary>
/// <param name="Start">The minute's (hour's) start, UTC.</param>
internal sealed record MinuteRow(
    string Service,
    string Upstream,
    DateTimeOffset Start,
    long Requests,
    long Failures,
    double? P50Ms,
    double? P99Ms,
    long Direct,
    long Relayed,
    long Backup,
    int UpSeconds,
    int DownSeconds,
    int MaintenanceSeconds);

/// <summary>How a request was served: straight to a best-tier upstream, through a peer, or by a later tier.</summary>
internal enum ServedPath
{
    Direct,
    Relayed,
    Backup,
    None,
}
