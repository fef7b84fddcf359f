namespace Manypaths.Config;

public sealed record StatusOptions
{
    public string Title { get; init; } = "Manypaths status";

    /// <summary>Public mode hides internal addresses from the status page and API.</summary>
    public bool Public { get; init; }
}

public sealed record AlertOptions
{
    public IReadOnlyList<Uri> Webhooks { get; init; } = [];
}
