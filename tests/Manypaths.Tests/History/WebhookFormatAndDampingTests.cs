using Manypaths.Tests.Support;

namespace Manypaths.Tests.History;

/// <summary>
/// One real node and a real receiver: a flap of an upstream shorter than the hold is never announced (the real
/// outage after it is, once), and a Slack-format webhook gets only {text}, in words.
/// </summary>
public sealed class WebhookFormatAndDampingTests
{
    [Fact]
    public async Task AFlapShorterThanTheHold_IsNotAnnounced_TheOutageAfterItIs_InSlackFormat()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        var (yaml, _) = Yaml.Service($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url} }}",
            "health: { path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }");
        yaml += $"\nalerts:\n  hold: 3s\n  group: 500ms\n  webhooks:\n    - {{ url: \"{receiver.Url}\", format: slack }}\n";
        await using var node = await ProxyNode.StartAsync(yaml);
        var recorder = node.Host.Recorder!;
        await Eventually.TrueAsync(() => recorder.Sampled("upstream", "svc/a") == "up", "a sampled up");

        // The flap: down, sampled, up again well within the 3 s hold.
        a.HealthOk = false;
        await Eventually.TrueAsync(() => recorder.Sampled("upstream", "svc/a") == "down", "a sampled down");
        a.HealthOk = true;
        await Eventually.TrueAsync(() => recorder.Sampled("upstream", "svc/a") == "up", "a sampled up again");

        // The outage: down for good. Its alert is the fence: had the flap been announced, it would have come first.
        a.HealthOk = false;
        await Eventually.TrueAsync(() => !receiver.Received.IsEmpty, "the outage's alert", TimeSpan.FromSeconds(15));
        var payload = Assert.Single(receiver.Received);
        var text = payload.GetProperty("text").GetString()!;
        Assert.Equal(["text"], payload.EnumerateObject().Select(p => p.Name)); // slack: only text
        Assert.Contains("Upstream svc/a is down", text, StringComparison.Ordinal);
        Assert.DoesNotContain("up again", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Service svc", text, StringComparison.Ordinal); // b serves: the service never went down
    }
}
