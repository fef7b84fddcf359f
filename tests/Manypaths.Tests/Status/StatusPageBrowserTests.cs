using System.Diagnostics;
using Manypaths.Health;
using Manypaths.Tests.Support;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Xunit.Abstractions;

namespace Manypaths.Tests.Status;

/// <summary>
/// The status page in real headless Chromium (Debian's chromium and chromedriver, driven by Selenium; nothing is
/// downloaded), served by a real 3-node cluster: no console errors; a failing service shows within 2 s without a
/// reload; the incident and the uptime bars render; a dead node shows as stale with its age. Screenshots (light,
/// dark, phone width) are saved to .test-results/screenshots.
/// </summary>
[Collection(Heavy.Name)]
public sealed class StatusPageBrowserTests(ITestOutputHelper output)
{
    private static readonly string Screenshots = Path.Combine(Tool.RepoRoot, ".test-results", "screenshots");

    [Fact]
    public async Task ThePage_ShowsAFailureLiveWithinTwoSeconds_TheIncidentBarsAndAStaleNode_WithoutConsoleErrors()
    {
        await using var a = await TestUpstream.StartAsync("a");
        await using var b = await TestUpstream.StartAsync("b");
        await using var cluster = await MeshCluster.StartAsync($"- {{ name: a, url: {a.Url} }}\n- {{ name: b, url: {b.Url}, tier: backup }}",
            "health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 200ms, rise: 1, fall: 2 }", new MeshClusterOptions());
        var n1 = cluster.Nodes["n1"];
        await Eventually.TrueAsync(() => cluster.Nodes.Values.All(n => n.Recorder!.Sampled("service", "svc") == "up") && n1.Recorder!.Sampled("node", "n3") == "reachable",
            "every node has sampled the service up, and n1 has n3 reachable", TimeSpan.FromSeconds(15));

        using var driver = StartChromium();
        driver.Navigate().GoToUrl(n1.AdminUrl!);
        Assert.Equal("All systems operational", Text(driver, "#banner"));
        Assert.Equal("healthy", Attribute(driver, "#service-svc", "data-state"));
        Assert.Equal(24, Count(driver, "#service-svc .uptime-24h .bar"));
        Assert.Equal(90, Count(driver, "#service-svc .uptime-90d .bar"));
        Save(driver, "1-light-healthy");

        // Both upstreams fail: the service goes down on n1; the open page shows it without a reload.
        a.HealthOk = false;
        b.HealthOk = false;
        await Eventually.TrueAsync(() => n1.Generation!.Services["svc"].Upstreams.All(u => u.Health.State == HealthState.Down), "n1 sees every upstream down");
        var clock = Stopwatch.StartNew();
        await Eventually.TrueAsync(() => Attribute(driver, "#service-svc", "data-state") == "down", "the page shows svc down", TimeSpan.FromSeconds(10));
        var shown = clock.Elapsed;
        output.WriteLine($"[report] status page: svc shown down {shown.TotalMilliseconds:0} ms after n1's health said so, without a reload");
        Assert.True(shown < TimeSpan.FromSeconds(2), $"shown after {shown.TotalMilliseconds:0} ms");
        Assert.StartsWith("Major outage", Text(driver, "#banner"), StringComparison.Ordinal);
        // Among the open incidents: when a went down a sample before b, a failover incident ("svc is served by b") is
        // open too, and may come first when both opened in the same second.
        try
        {
            await Eventually.TrueAsync(() => Text(driver, "#active-incidents")?.Contains("svc is down", StringComparison.Ordinal) == true,
                "the incident is listed", TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            using var api = new HttpClient();
            Assert.Fail($"the incident is not listed: {Text(driver, "#active-incidents")}\n/api/incidents: {await api.GetStringAsync(new Uri(n1.AdminUrl!, "api/incidents"))}");
        }

        await Eventually.TrueAsync(() => Count(driver, "#service-svc .uptime-24h .bar.none") == 23, "this hour's bar has data (the earlier 23 have none)", TimeSpan.FromSeconds(15));
        driver.FindElements(By.CssSelector("#service-svc .uptime-24h .bar"))[23].Click(); // this hour: tapped, its figure shows
        await Eventually.TrueAsync(() => Text(driver, "#service-svc .uptime-24h .caption")?.Contains("% up", StringComparison.Ordinal) == true, "the tapped bar's figure", TimeSpan.FromSeconds(5));
        Save(driver, "2-light-outage");

        // A node dies: n1 shows it unreachable, with how long ago it was heard, and its stale row.
        await cluster.Nodes["n3"].DisposeAsync();
        await Eventually.TrueAsync(() => Text(driver, "#nodes [data-node=n3]")?.Contains("unreachable", StringComparison.Ordinal) == true,
            "n3 shows as unreachable", TimeSpan.FromSeconds(10));
        var n3 = Text(driver, "#nodes [data-node=n3]") ?? "";
        Assert.Contains("last heard", n3, StringComparison.Ordinal);
        Assert.Contains("last known state", n3, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Text(driver, "#link-matrix")?.Contains("stale", StringComparison.Ordinal) == true, "n3's row is stale in the link matrix", TimeSpan.FromSeconds(10));

        // Dark and phone width.
        driver.ExecuteCdpCommand("Emulation.setEmulatedMedia", new Dictionary<string, object?> { ["features"] = new[] { new Dictionary<string, object?> { ["name"] = "prefers-color-scheme", ["value"] = "dark" } } });
        Save(driver, "3-dark-outage");
        driver.ExecuteCdpCommand("Emulation.setDeviceMetricsOverride", new Dictionary<string, object?> { ["width"] = 390, ["height"] = 844, ["deviceScaleFactor"] = 2, ["mobile"] = true });
        driver.Navigate().Refresh();
        Save(driver, "4-dark-phone");
        var overflow = Convert.ToInt64(driver.ExecuteScript("return document.documentElement.scrollWidth - window.innerWidth;"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a phone (only tables scroll, inside their box)");

        var errors = driver.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level >= OpenQA.Selenium.LogLevel.Severe).ToList();
        Assert.True(errors.Count == 0, "console errors: " + string.Join("\n", errors.Select(e => e.Message)));
        output.WriteLine($"[report] screenshots in {Screenshots}");
    }

    // The live part is replaced every second: read it in one script call, never through a held element.
    private static string? Text(ChromeDriver d, string css) =>
        d.ExecuteScript("var e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css) as string;

    private static string? Attribute(ChromeDriver d, string css, string name) =>
        d.ExecuteScript("var e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;", css, name) as string;

    private static int Count(ChromeDriver d, string css) =>
        Convert.ToInt32(d.ExecuteScript("return document.querySelectorAll(arguments[0]).length;", css), System.Globalization.CultureInfo.InvariantCulture);

    private static ChromeDriver StartChromium()
    {
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600");
        options.SetLoggingPreference(LogType.Browser, OpenQA.Selenium.LogLevel.All);
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private void Save(ChromeDriver driver, string name)
    {
        Directory.CreateDirectory(Screenshots);
        var path = Path.Combine(Screenshots, name + ".png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        output.WriteLine($"[report] screenshot {path}");
    }
}
