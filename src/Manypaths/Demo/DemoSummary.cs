namespace Manypaths.Demo;

internal sealed record DemoEvent(double AtSeconds, string What);

/// <summary>The machine-readable end of an unattended demo.</summary>
internal sealed record DemoSummary(
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
