namespace Manypaths.Config;

public sealed record StatusOptions
{
    public string Title { get; init; } = "Manypaths status";

    /// <summary>Public mode hides internal addresses from the status page and API.</summary>
    public bool Public { get; init; }

    /// <summary>With public: node names shown as "node 1", "node 2" ...</summary>
    public bool HideNodes { get; init; }

    /// <summary>Where this node keeps its history (null: $STATE_DIRECTORY, else ~/.local/state/manypaths).</summary>
    public string? DataDir { get; init; }

    /// <summary>Whether this node keeps history (false: no store, nothing added per request; the page shows live state only).</summary>
    public bool History { get; init; } = true;

    /// <summary>How long hourly history is kept (minutes are kept 48 h).</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(90);
}

public sealed record AlertOptions
{
    /// <summary>A new state must last this long before it is announced (a service going down skips it).</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Events released within this window of the first go out as one alert.</summary>
    public TimeSpan Group { get; init; } = TimeSpan.FromSeconds(2);

    public IReadOnlyList<WebhookOptions> Webhooks { get; init; } = [];
}

public enum WebhookFormat
{
    /// <summary>{cluster, node, events: [...], text}.</summary>
    Json,

    /// <summary>{text}: Slack and Mattermost incoming webhooks.</summary>
    Slack,
}

/// <summary>One webhook: its URL (written, or read from a file: a secret), and its payload format.</summary>
/// <param name="Label">How the page and logs name it ("webhook 2 (slack)"): never the URL.</param>
/// <param name="UrlFile">The file the URL was read from (a reload reads it again when it changes).</param>
public sealed record WebhookOptions(Uri Url, WebhookFormat Format, string Label, string? UrlFile = null)
{
    /// <summary>Everything that makes two webhooks the same, the URL exactly as written (user info included).</summary>
    public string Identity => $"{Format} {Url.OriginalString}";
}
