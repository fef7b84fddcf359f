namespace Manypaths.Config;

/// <summary>Reads 'alerts': hold, group and the webhooks (a URL written, or read from 'url_file'; json or slack).</summary>
internal sealed class AlertsReader(ConfigErrors errors, string baseDirectory)
{
    public AlertOptions Read(YamlMap map)
    {
        map.AllowOnly("hold", "group", "webhooks");
        var hooks = new List<WebhookOptions>();
        foreach (var item in map.List("webhooks")?.Children ?? [])
        {
            if (YamlMap.FromItem(item, errors, "a webhook") is { } hook && ReadWebhook(hook, hooks.Count + 1) is { } options)
            {
                hooks.Add(options);
            }
        }

        return new AlertOptions
        {
            Hold = map.Duration("hold") ?? TimeSpan.FromSeconds(5),
            Group = map.Duration("group") ?? TimeSpan.FromSeconds(2),
            Webhooks = hooks,
        };
    }

    private WebhookOptions? ReadWebhook(YamlMap hook, int number)
    {
        hook.AllowOnly("url", "url_file", "format");
        var formatNode = hook.Scalar("format");
        var format = WebhookFormat.Json;
        if (formatNode is not null && !Enum.TryParse(formatNode.Value, ignoreCase: true, out format))
        {
            errors.Add(formatNode, $"'format' in {hook.Where} must be json or slack, not '{formatNode.Value}'.");
            return null;
        }

        var written = hook.Raw("url");
        var file = hook.Raw("url_file");
        if ((written is null) == (file is null))
        {
            errors.Add(hook.Node, $"{YamlMap.Capitalize(hook.Where)} needs exactly one of 'url' (written here) or 'url_file' (a file holding a secret URL).");
            return null;
        }

        var label = $"webhook {number} ({format.ToString().ToLowerInvariant()})";
        if (written is not null)
        {
            return hook.HttpUrl("url", required: true, secret: true) is { } url ? new WebhookOptions(url, format, label) : null;
        }

        if (ConfigFiles.Existing(hook, "url_file", "webhook URL", baseDirectory) is not { } path)
        {
            return null;
        }

        var text = File.ReadAllText(path).Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var fromFile) || fromFile.Scheme is not ("http" or "https"))
        {
            // The file holds a secret: say what is wrong without repeating it.
            errors.Add(hook.Scalar("url_file")!, $"The webhook URL file '{hook.String("url_file")}' does not hold an http(s) URL (its {text.Length} characters are not shown: it is a secret).");
            return null;
        }

        return new WebhookOptions(fromFile, format, label, path);
    }
}
