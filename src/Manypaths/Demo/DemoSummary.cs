namespace Manypaths.Demo;

internal sealed record DemoEvent(double AtSeconds, string What);

/// <summary>
/// The machine-readable end of an unattended demo. The URLs are where things were while it ran: the demo stops every
/// node and upstream before printing this, so they are gone (<see cref="Note"/> says so in the JSON itself).
/// </summary>
internal sealed record DemoSummary(
    string Note,
    string StatusUrl,
    string ProxyUrl,
    double DurationSeconds,
    long Requests,
    long Failed,
    IReadOnlyDictionary<string, long> Failures,
    IReadOnlyDictionary<string, long> ServedBy,
    IReadOnlyDictionary<string, long> Routes,
    IReadOnlyList<DemoEvent> Events);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DemoSummary))]
internal sealed partial class DemoJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
